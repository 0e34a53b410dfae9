"""Closed forms of the linear birth–death process, written independently of the engine.

The engine works with Kendall's law in the (m, H) form of :mod:`gistsim.engine.kendall`. Here the
same law is written in the classical textbook form (Kendall 1948; Bailey 1964, ch. 8) quoted in
DESIGN §3, and piecewise-constant rates are handled by composing probability generating functions
and by the law of total variance, not by the engine's (m, H) composition rule. An error in either
formulation then shows up as a disagreement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import integrate


def alpha_beta(b: float, d: float, t: float) -> tuple[float, float]:
    """One cell: P(N(t) = 0) = α, and N(t) | N(t) > 0 is geometric on {1, …} with ratio β.

    α = d(e^{rt} - 1)/(b e^{rt} - d), β = b(e^{rt} - 1)/(b e^{rt} - d), r = b - d;
    for r = 0 both are bt/(1 + bt).
    """
    if t == 0.0:
        return 0.0, 0.0
    r = b - d
    if r == 0.0:
        a = b * t / (1.0 + b * t)
        return a, a
    e = math.exp(r * t)
    den = b * e - d
    return d * (e - 1.0) / den, b * (e - 1.0) / den


def single_cell_pgf(s: np.ndarray, b: float, d: float, t: float) -> np.ndarray:
    """E[s^N(t)] for one cell: α + (1 - α)(1 - β) s / (1 - β s)."""
    a, be = alpha_beta(b, d, t)
    return a + (1.0 - a) * (1.0 - be) * s / (1.0 - be * s)


def pgf(s: np.ndarray, durations: Sequence[float], b: Sequence[float], d: Sequence[float]) -> np.ndarray:
    """pgf of one cell's descendants after consecutive pieces: f₁(f₂(…f_P(s)))."""
    out = np.asarray(s, dtype=complex)
    for k in range(len(durations) - 1, -1, -1):
        out = single_cell_pgf(out, b[k], d[k], durations[k])
    return out


def mean_variance(
    n0: int, durations: Sequence[float], b: Sequence[float], d: Sequence[float]
) -> tuple[float, float]:
    """Mean and variance of the total from ``n0`` cells.

    One piece: E = e^{rt}, Var = (b + d)/r · e^{rt}(e^{rt} - 1) (= 2bt at r = 0). Pieces compose by
    the law of total variance: N = Σ_{i ≤ N₁} Y_i gives E = m₁M₂, Var = m₁V₂ + v₁M₂².
    """
    mean, var = 1.0, 0.0
    for k in range(len(durations) - 1, -1, -1):
        t, bk, dk = durations[k], b[k], d[k]
        r = bk - dk
        m1 = math.exp(r * t)
        v1 = 2.0 * bk * t if r == 0.0 else (bk + dk) / r * m1 * (m1 - 1.0)
        mean, var = m1 * mean, m1 * var + v1 * mean * mean
    return n0 * mean, n0 * var


def extinction_probability(
    n0: int, durations: Sequence[float], b: Sequence[float], d: Sequence[float]
) -> float:
    """P(no cell left) = f(0)^n0."""
    return float(pgf(np.zeros(1), durations, b, d)[0].real) ** n0


def pmf(n0: int, durations: Sequence[float], b: Sequence[float], d: Sequence[float]) -> np.ndarray:
    """pmf of the total from ``n0`` cells on 0, 1, …, L-1 by inverting the pgf with an FFT.

    The DFT of the pmf is the pgf on the unit circle, f(e^{-2πij/L})^n0. Mass beyond L would alias
    onto small values, so L is doubled until the top quarter of the grid holds less than 1e-13.
    """
    mean, var = mean_variance(n0, durations, b, d)
    size = 1 << max(8, int(math.ceil(math.log2(mean + 40.0 * math.sqrt(var) + 64.0))))
    while True:
        j = np.arange(size)
        values = pgf(np.exp(-2j * np.pi * j / size), durations, b, d) ** n0
        p = np.fft.ifft(values).real
        if p[3 * size // 4 :].sum() < 1e-13 or size > 1 << 24:
            return np.clip(p, 0.0, None)
        size *= 2


def expected_mutants(
    s0: float,
    r0: float,
    durations: Sequence[float],
    b_s: Sequence[float],
    d_s: Sequence[float],
    b_r: Sequence[float],
    d_r: Sequence[float],
    u: float,
) -> float:
    """E R(T) for S → S + R at rate u·b_S per S cell, R from R₀ cells plus its mutants.

    E R(T) = R₀ e^{∫₀ᵀ r_R} + ∫₀ᵀ u b_S(s) E S(s) e^{∫ₛᵀ r_R} ds, evaluated with adaptive
    quadrature piece by piece (the equations are linear, so the mean is exact without any path
    approximation).
    """
    starts = np.concatenate([[0.0], np.cumsum(durations)])
    total_t = starts[-1]

    def log_growth(rates_b: Sequence[float], rates_d: Sequence[float], lo: float, hi: float) -> float:
        acc = 0.0
        for k in range(len(durations)):
            a, z = max(lo, starts[k]), min(hi, starts[k + 1])
            if z > a:
                acc += (rates_b[k] - rates_d[k]) * (z - a)
        return acc

    out = r0 * math.exp(log_growth(b_r, d_r, 0.0, total_t))
    for k in range(len(durations)):
        if durations[k] == 0:
            continue

        def integrand(s: float, k: int = k) -> float:
            es = s0 * math.exp(log_growth(b_s, d_s, 0.0, s))
            return u * b_s[k] * es * math.exp(log_growth(b_r, d_r, s, total_t))

        val, _ = integrate.quad(integrand, starts[k], starts[k + 1], epsabs=0.0, epsrel=1e-10)
        out += val
    return out
