"""Closed-form linear PK: the unit-dose response as a sum of exponentials ("modes") and its
evolution under discrete doses. Vectorised over patients; times in days, rates per day.

Between doses a mode decays, dm_j/dt = −λ_j·m_j; a dose D at time t adds a_j·D·F(t), with
F(t) = 1 + α·e^{−k t} the relative bioavailability. The concentration is Σ_j m_j (ng/mL).
Used by :mod:`gistsim.clinic.drugs`.
"""

from __future__ import annotations

import numpy as np

# Rate constants closer than this (relative) are pulled apart, because the Bateman coefficients
# 1/(λ_j − λ_i) would lose precision; a 0.1% change of a rate constant is far below its IIV.
_MIN_SEPARATION = 1e-3


def _separate(ref: np.ndarray, other: np.ndarray) -> np.ndarray:
    close = np.abs(other - ref) < _MIN_SEPARATION * ref
    return np.where(close, ref * (1.0 + 2.0 * _MIN_SEPARATION), other)


def modes(
    *,
    cl_l_per_day: np.ndarray,
    v_l: np.ndarray,
    ka_per_day: np.ndarray,
    metabolite_ratio: np.ndarray,
    km_per_day: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes (ng/mL per mg) and rates (per day), each (n, 3): modes (ke, ka, km).

    Parent (one compartment, first-order absorption): C_p(t) = K (e^{−ke t} − e^{−ka t}) with
    K = 1000·ka / (V (ka − ke)) (mg/L → ng/mL), so ∫C_p = 1000/CL.
    Metabolite formed from the parent's elimination and cleared at km (Bateman chain
    ka → ke → km), scaled so that its AUC is ``metabolite_ratio`` × the parent's:
    C_m(t) = M Σ_i e^{−λ_i t} / Π_{j≠i}(λ_j − λ_i), M = 1000·ratio·km·ke·ka / CL.
    Without a metabolite (ratio 0) the km mode has amplitude 0.
    """
    cl = np.asarray(cl_l_per_day, float)
    ke = cl / np.asarray(v_l, float)
    ka = _separate(ke, np.broadcast_to(np.asarray(ka_per_day, float), ke.shape))
    km = np.full_like(ke, km_per_day if km_per_day > 0 else 1.0)
    km = _separate(ke, _separate(ka, km))
    k_parent = 1000.0 * ka / ((cl / ke) * (ka - ke))
    lam = np.stack([ke, ka, km], axis=1)
    amp = np.stack([k_parent, -k_parent, np.zeros_like(ke)], axis=1)
    ratio = np.broadcast_to(np.asarray(metabolite_ratio, float), ke.shape)
    if km_per_day > 0 and np.any(ratio > 0):
        m_coef = 1000.0 * ratio * km * ke * ka / cl
        amp = amp + m_coef[:, None] * np.stack(
            [
                1.0 / ((ka - ke) * (km - ke)),
                1.0 / ((ke - ka) * (km - ka)),
                1.0 / ((ke - km) * (ka - km)),
            ],
            axis=1,
        )
    return amp, lam


def _geometric(x: np.ndarray, n: int) -> np.ndarray:
    """Σ_{i<n} e^{−x i} = (1 − e^{−x n}) / (1 − e^{−x}), for x ≠ 0."""
    return np.expm1(-x * n) / np.expm1(-x)


def advance(
    state: np.ndarray,
    amp: np.ndarray,
    lam: np.ndarray,
    dose_mg: float,
    tau_days: float,
    t_start: float,
    t_end: float,
    decay: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Modes at ``t_end`` and their integrals over [t_start, t_end), with exact discrete doses.

    Doses of ``dose_mg`` fall at every multiple of ``tau_days`` (counted from day 0) in
    [t_start, t_end); ``dose_mg = 0`` is a washout. A dose at t_k adds amp·dose·F(t_k) to the
    modes, F(t) = 1 + α·e^{−k t} with ``decay = (α, k)``. Sums over doses are geometric series
    taken backwards from the last dose, so nothing overflows however long the piece.
    """
    length = t_end - t_start
    if length <= 0.0:
        return state, np.zeros_like(state)
    one_minus = -np.expm1(-lam * length)
    end = state * np.exp(-lam * length)
    integral = state * one_minus / lam
    first = int(np.ceil(t_start / tau_days - 1e-9))
    n_doses = int(np.ceil(t_end / tau_days - 1e-9)) - first if dose_mg > 0 else 0
    if n_doses > 0:
        t_last = (first + n_doses - 1) * tau_days
        since_last = np.exp(-lam * (t_end - t_last))
        s_weighted = since_last * _geometric(lam * tau_days, n_doses)  # Σ_k e^{−λ(t_end − t_k)}
        s_plain = float(n_doses)  # Σ_k 1
        alpha, k = decay
        if alpha > 0 and k > 0:
            # Σ_k e^{−k t_k} e^{−λ(t_end − t_k)} and Σ_k e^{−k t_k}, again from the last dose back.
            s_weighted = s_weighted + alpha * np.exp(-k * t_last) * since_last * _geometric(
                (lam - k) * tau_days, n_doses
            )
            s_plain += alpha * np.exp(-k * t_last) * float(_geometric(np.array(-k * tau_days), n_doses))
        end = end + amp * dose_mg * s_weighted
        integral = integral + amp * dose_mg * (s_plain - s_weighted) / lam
    return end, integral


def periodic_state(
    amp: np.ndarray,
    lam: np.ndarray,
    dose_mg: float,
    tau_days: float,
    days_on: int,
    days_off: int,
    t_days: float,
) -> np.ndarray:
    """Modes at ``t_days`` of an on/off schedule started from zero at day 0 (no time-dependent F).

    Over one cycle each mode maps m → q·m + c (q = e^{−λ·cycle}, c = the state after one cycle
    from zero); from zero, after j cycles m = c (1 − q^j) / (1 − q). The rest is advanced directly.
    """
    cycle = float(days_on + days_off)
    j = np.floor(t_days / cycle)
    none = (0.0, 0.0)
    c = advance(np.zeros_like(amp), amp, lam, dose_mg, tau_days, 0.0, float(days_on), none)[0]
    c = advance(c, amp, lam, 0.0, tau_days, float(days_on), cycle, none)[0]
    state = c * np.expm1(-lam * cycle * j) / np.expm1(-lam * cycle)
    rest = t_days - j * cycle
    state = advance(state, amp, lam, dose_mg, tau_days, 0.0, min(rest, days_on), none)[0]
    return advance(state, amp, lam, 0.0, tau_days, float(days_on), max(rest, days_on), none)[0]
