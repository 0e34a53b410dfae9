"""The skew-corrected normal that replaces exact draws of large integer totals, and its error.

An integer total N with cumulants K₁…K₄ (a clone's cells after a step, or the cells of many mutant
lineages founded in one) is drawn as round(K₁ + √K₂ (Z + a(Z² − 1))), a = γ/6, γ = K₃/K₂^{3/2}
(one-term Cornish–Fisher), clipped to [0, :data:`MAX_CELLS`].

Its Kolmogorov distance from the exact law, to leading order of the Edgeworth expansion, is
max_w φ(w)|α w³ + β w| with α = κ̃₄/24 − γ²/18 and β = −κ̃₄/8 + 5γ²/36 − 1/(24K₂) (κ̃₄ = K₄/K₂²; the
last term is the midpoint rule's lattice correction for rounding). For a sum of n i.i.d. terms it
falls as 1/n, where the plain normal's falls as γ₁/√n. The engine bounds it term by term,
|α|·max|w³φ| + |β|·max|wφ|, multiplies by :data:`EDGEWORTH_SAFETY` for the remainder, and uses the
draw where that is at most :data:`MAX_KOLMOGOROV`. The estimate is not a theorem: verification
check 7 computes exact laws by FFT at the thresholds and measures the distance.
"""

from __future__ import annotations

import numpy as np

#: Largest Kolmogorov distance accepted between an exact law and the normal draw used in its place.
#: A two-sample KS test needs about (1.36/ε)² ≈ 1.8 million draws from the *same* state to see a
#: difference this small at α = 0.05; the engine never draws a state more than once, so the
#: approximation is invisible below any sampling noise a user can produce.
MAX_KOLMOGOROV = 1e-3

#: Factor on the leading-order Edgeworth error. The leading term alone falls short of the exact
#: distance by up to 17% at the threshold (the next order, largest when few lineages survive); with
#: the factor the exact distance at the threshold is at most 0.79 ε over verification check 7's
#: grids of clone laws and of mutant-arrival laws.
EDGEWORTH_SAFETY = 1.5

#: Largest count the int64 tables hold; draws above it saturate here instead of wrapping round to
#: negative numbers. 2**62 cells is ~1.5e10 cm³ at 3e8 cells/cm³, a million times any lethal
#: burden: the clinic has killed the patient long before (clinic.death.lethal_volume_cm3).
MAX_CELLS = float(2**62)

# max_w |w³ φ(w)| (at w = √3) and max_w |w φ(w)| (at w = 1).
_MAX_W3_PHI = 3.0**1.5 * np.exp(-1.5) / np.sqrt(2.0 * np.pi)
_MAX_W_PHI = np.exp(-0.5) / np.sqrt(2.0 * np.pi)


def _scaled_error(k2: np.ndarray, k3: np.ndarray, k4: np.ndarray) -> np.ndarray:
    """K₂³ × the estimated error (safety included): free of divisions, 0 where K₂ = 0."""
    k2sq = k2 * k2
    kurt = k4 * k2  # κ̃₄ K₂³
    skew2 = k3 * k3  # γ² K₂³
    alpha = kurt / 24.0 - skew2 / 18.0
    beta = -kurt / 8.0 + 5.0 * skew2 / 36.0 - k2sq / 24.0
    return EDGEWORTH_SAFETY * (_MAX_W3_PHI * np.abs(alpha) + _MAX_W_PHI * np.abs(beta))


def edgeworth_error(k2: np.ndarray, k3: np.ndarray, k4: np.ndarray) -> np.ndarray:
    """Estimated Kolmogorov distance of :func:`draw` from the exact law with cumulants K₂, K₃, K₄
    (0 for a point mass, K₂ = 0)."""
    k2, k3, k4 = (np.asarray(a, dtype=float) for a in (k2, k3, k4))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _scaled_error(k2, k3, k4) / (k2 * k2 * k2)
    return np.where(k2 > 0, out, 0.0)


def within_tolerance(k2: np.ndarray, k3: np.ndarray, k4: np.ndarray) -> np.ndarray:
    """Where :func:`edgeworth_error` ≤ :data:`MAX_KOLMOGOROV` (point masses included)."""
    k2, k3, k4 = (np.asarray(a, dtype=float) for a in (k2, k3, k4))
    return _scaled_error(k2, k3, k4) <= MAX_KOLMOGOROV * (k2 * k2 * k2)


def draw(z: np.ndarray, k1: np.ndarray, k2: np.ndarray, k3: np.ndarray) -> np.ndarray:
    """round(K₁ + √K₂ (Z + a(Z² − 1))), a = K₃/(6 K₂^{3/2}), clipped to [0, MAX_CELLS], as int64.

    Z is held on the side of the parabola's vertex where the map increases (|Z| > 1/(2|a|) lies
    beyond ten standard deviations wherever :func:`within_tolerance` holds).
    """
    k2 = np.asarray(k2, dtype=float)
    sd = np.sqrt(k2)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(k2 > 0, k3 / (6.0 * k2 * sd), 0.0)
        vertex = -0.5 / a
    z = np.where(a > 0, np.maximum(z, vertex), np.where(a < 0, np.minimum(z, vertex), z))
    x = np.rint(k1 + sd * (z + a * (z * z - 1.0)))
    return np.clip(x, 0.0, MAX_CELLS).astype(np.int64)
