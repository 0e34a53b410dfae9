"""What CT shows of a lesion: its size (viable plus dead tissue), measured with error, and its density.

* A lesion's imaged mass is its viable cells plus the dead tissue the drug left behind: most of it
  resorbs with a half-life (``necrosis_half_life_days``), a share (``scar_fraction``) as a slowly
  shrinking cystic/fibrotic remnant (``scar_half_life_days``); with ``resorption_exponent`` < 1
  both resorb from the surface, so small remnants go sooner than large ones (:func:`resorb`).
  Sensitive lesions on imatinib often keep their size while their density falls (Choi), and
  rarely vanish (CR is 3-6%).
* Diameter: a sphere of that volume at the cell density (``gistsim.biology.volume``).
* Measurement: a lesion is seen when its true diameter reaches the detection limit (~5 mm), and
  then measured as the true diameter times (1 + cv·Z), Z standard normal; RECIST measures from
  10 mm. Seeing on the true size keeps a remnant that sits near the limit from flickering in and
  out of view, which a radiologist comparing scans would not report as disappearance and return.
* Density: mean attenuation is the mix of viable (enhancing) and dead tissue by volume.
"""

from __future__ import annotations

import numpy as np

from gistsim.biology.volume import cells_to_diameter_mm
from gistsim.clinic.parameters import ImagingParameters
from gistsim.streams import Draws, PatientStreams, as_draws, owners


#: Dead-tissue volume at which the resorption half-lives are read (a 4 cm sphere). A convention,
#: not a value: with ``resorption_exponent`` = 1 it does not matter; otherwise the fitted
#: half-lives absorb any other choice.
RESORPTION_REFERENCE_CM3 = 4.0**3 * np.pi / 6.0


def resorb(
    necrotic_cells: np.ndarray,
    dt_days: float,
    half_life_days: float,
    *,
    exponent: float = 1.0,
    reference_cells: float = 1.0,
) -> np.ndarray:
    """Dead tissue left after ``dt_days`` of resorption dV/dt = -k·V^exponent.

    ``exponent`` 1 is first-order resorption (the same half-life at every size); 2/3 is clearance
    from the surface, the diameter then shrinking at a constant rate, so small remnants vanish
    sooner than large ones. ``half_life_days`` is the time to halve from ``reference_cells``:
    V(t)^(1-a) = V0^(1-a) - c·t with c = ref^(1-a)·(1 - 2^(a-1)) / half-life, clipped at 0.
    """
    if exponent == 1.0:
        return necrotic_cells * np.exp(-np.log(2.0) * dt_days / half_life_days)
    e = 1.0 - exponent
    c = reference_cells**e * (1.0 - 2.0 ** (-e)) / half_life_days
    v = np.maximum(np.asarray(necrotic_cells, float), 0.0)
    # Most lesions of a course hold no dead tissue; the powers only where there is some (a remnant
    # of 0 stays 0 either way), as they are a visit's costliest arithmetic.
    some = v != 0.0
    out = np.zeros_like(v)
    out[some] = np.maximum(v[some] ** e - c * dt_days, 0.0) ** (1.0 / e)
    return out


def true_diameter_mm(viable_cells: np.ndarray, necrotic_cells: np.ndarray, cells_per_cm3: float) -> np.ndarray:
    """Diameter of the imaged mass (viable + dead tissue) as a sphere."""
    return cells_to_diameter_mm(np.asarray(viable_cells, float) + necrotic_cells, cells_per_cm3)


def measure_mm(
    true_mm: np.ndarray,
    params: ImagingParameters,
    *,
    rng: np.random.Generator | PatientStreams | Draws,
    owner: np.ndarray | None = None,
) -> np.ndarray:
    """Measured longest diameters; NaN where the lesion is not seen.

    Measurement error is drawn only for lesions that are seen: a course accumulates far more
    microscopic lesions (seeded, or extinct) than visible ones, and drawing for those would cost
    most of the imaging time for numbers that are never used.
    """
    true_mm = np.asarray(true_mm, dtype=float)
    d = as_draws(rng)
    who = owners(d, owner, true_mm.size).reshape(true_mm.shape)
    seen = true_mm >= params.detection_limit_mm.value
    out = np.full(true_mm.shape, np.nan)
    z = d.standard_normal(who[seen])
    out[seen] = true_mm[seen] * np.maximum(1.0 + params.measurement_cv.value * z, 0.0)
    return out


def attenuation_hu(viable_cells: np.ndarray, necrotic_cells: np.ndarray, params: ImagingParameters) -> np.ndarray:
    """Mean attenuation (HU) of the imaged mass; NaN where it holds nothing."""
    total = np.asarray(viable_cells, float) + necrotic_cells
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(total > 0, viable_cells / total, np.nan)
    return params.necrotic_hu.value + frac * (params.viable_hu.value - params.necrotic_hu.value)
