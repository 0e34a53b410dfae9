"""Adaptive (non-genetic) tolerance: a patient's tumour needs less of its KIT signalling the longer
it is on a KIT inhibitor, and regains its dependence off drug.

Hansson 2013's tumour-size model of sunitinib in imatinib-resistant GIST lets the drug effect decay
as e^(−λt), λ = 0.0217/week (model_parameters.md §4b, C2). That decay also stands in for genetic
resistance, which gistsim draws clone by clone; here only part of the kill may fade:

    kill factor = 1 − (1 − floor) · T,    dT/dt = λ (1 − T) on any KIT inhibitor,   dT/dt = −λ T off drug,

T ∈ [0, 1] the patient's tolerance (0 at the start of treatment). ``floor = 1`` switches it off.
Tolerance is one state per patient, shared by every KIT inhibitor (adaptive rewiring bypasses KIT
whatever inhibits it) and lost at the same rate off drug, which is what lets a drug holiday restore
sensitivity to the same drug (BFR14's re-challenge, calibration_targets.md A8). Both the sharing and
the symmetric loss are assumptions (no GIST measurement), recorded with the parameters in
``evolution.yaml``.

The engine holds rates constant over a step (DESIGN §3), so the factor is T's average over the
step's days on drug, taken exactly; a pause (surgery's recovery) comes first in a step, as in
:meth:`gistsim.clinic.treatment.Treatment.step_rates`.
"""

from __future__ import annotations

import numpy as np

from gistsim.errors import check_nonnegative, check_unit_interval


def tolerance_step(
    level: np.ndarray,
    on_drug: np.ndarray,
    off_days: np.ndarray,
    dt_days: float,
    rate_per_day: float,
    floor: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(kill factor over the step, tolerance at its end)`` per patient.

    ``on_drug``: patients on a KIT inhibitor in this step; ``off_days``: their pause at its start
    (no drug), clipped to the step; ``floor``: one for all, or one per patient.
    """
    t0 = check_unit_interval("tolerance_level", level)
    floor = check_unit_interval("tolerance_kill_floor", floor)
    rate_per_day = float(check_nonnegative("tolerance_rate_per_day", rate_per_day))
    on = np.asarray(on_drug, dtype=bool)
    pause = np.where(on, np.clip(np.asarray(off_days, dtype=float), 0.0, dt_days), dt_days)
    days_on = dt_days - pause
    after_pause = t0 * np.exp(-rate_per_day * pause)
    x = rate_per_day * days_on
    # (1 − e^(−x)) / x → 1 as x → 0: the average of e^(−λs) over the days on drug.
    mean_decay = np.where(x > 1e-12, -np.expm1(-x) / np.where(x > 1e-12, x, 1.0), 1.0 - x / 2)
    mean_level = 1.0 - (1.0 - after_pause) * mean_decay
    factor = np.where(days_on > 0, 1.0 - (1.0 - floor) * mean_level, 1.0)
    return factor, 1.0 - (1.0 - after_pause) * np.exp(-x)  # x = 0 without days on drug: after_pause
