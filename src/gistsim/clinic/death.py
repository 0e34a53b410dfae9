"""Death: background mortality by age (Gompertz), a tumour-burden-linked hazard, and a hazard that
grows with each drug the disease has progressed on."""

from __future__ import annotations

import numpy as np

from gistsim.clinic.parameters import DeathParameters

_DAYS_PER_YEAR = 365.25


def background_hazard_per_year(age_years: np.ndarray, params: DeathParameters) -> np.ndarray:
    """All-cause hazard at an age: rate at 60 × 2^((age − 60)/doubling time)."""
    age = np.asarray(age_years, dtype=float)
    return params.gompertz_rate_at_60_per_year.value * 2.0 ** ((age - 60.0) / params.gompertz_doubling_years.value)


def burden_hazard_per_year(cells: np.ndarray, params: DeathParameters) -> np.ndarray:
    """Tumour-related hazard: h_ref × (cells / reference)^exponent."""
    rel = np.asarray(cells, dtype=float) / params.burden_reference_cells.value
    return params.burden_hazard_per_year_at_reference.value * rel ** params.burden_exponent.value


def death_probability(
    age_years: np.ndarray,
    cells_start: np.ndarray,
    cells_end: np.ndarray,
    dt_days: float,
    params: DeathParameters,
    cells_per_cm3: float | None = None,
    failures: np.ndarray | None = None,
) -> np.ndarray:
    """P(death within an interval of ``dt_days``), with the burden hazard averaged over its ends.

    ``failures``: per patient, the drugs its disease has progressed on so far; each beyond the
    first ``failures_exempt`` adds ``hazard_per_year_per_failure`` — the decline of patients with
    resistant, pretreated disease that tumour volume alone does not carry (performance status,
    bleeding, obstruction, cumulative toxicity).

    With ``cells_per_cm3``, a viable tumour volume above ``lethal_volume_cm3`` at the end of the
    interval is certain death.
    """
    h = background_hazard_per_year(age_years, params) + 0.5 * (
        burden_hazard_per_year(cells_start, params) + burden_hazard_per_year(cells_end, params)
    )
    if failures is not None:
        charged = np.maximum(np.asarray(failures, dtype=float) - params.failures_exempt.value, 0.0)
        h = h + params.hazard_per_year_per_failure.value * charged
    p = -np.expm1(-h * dt_days / _DAYS_PER_YEAR)
    if cells_per_cm3 is not None:
        p = np.where(np.asarray(cells_end, dtype=float) / cells_per_cm3 > params.lethal_volume_cm3.value, 1.0, p)
    return p
