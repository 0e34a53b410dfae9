"""Hypothesis tests used by the checks. Every tolerance comes from a sampling variance."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Smallest expected count per bin of a chi-squared test (bins are merged until they reach it).
MIN_EXPECTED = 5.0


def z_p_value(z: float) -> float:
    """Two-sided normal p-value."""
    return float(2.0 * stats.norm.sf(abs(z)))


def mean_z(x: np.ndarray, mean: float, var: float | None = None) -> tuple[float, float]:
    """z and p for the sample mean against ``mean``.

    The standard error is √(var/R) with the closed-form ``var`` when given, else the sample
    variance (the CLT applies to both; the sample variance is used where no closed form exists).
    """
    x = np.asarray(x, dtype=float)
    v = float(np.var(x, ddof=1)) if var is None else float(var)
    if v == 0.0:
        z = 0.0 if float(x.mean()) == mean else math.inf
    else:
        z = (float(x.mean()) - mean) / math.sqrt(v / len(x))
    return z, z_p_value(z)


def variance_z(x: np.ndarray, var: float) -> tuple[float, float]:
    """z and p for the sample variance against ``var``.

    The sample variance s² is asymptotically normal with variance (μ₄ - σ⁴)/R; μ₄ and σ⁴ are
    estimated from the sample (fourth central moment and s⁴).
    """
    x = np.asarray(x, dtype=float)
    c = x - x.mean()
    s2 = float(np.mean(c * c)) * len(x) / (len(x) - 1)
    m4 = float(np.mean(c**4))
    se = math.sqrt(max(m4 - s2 * s2, 0.0) / len(x))
    z = 0.0 if se == 0.0 and s2 == var else (s2 - var) / se
    return z, z_p_value(z)


def _merge_bins(weights: np.ndarray, minimum: float) -> np.ndarray:
    """Bin index of each value so that every bin's weight reaches ``minimum``.

    Values are merged left to right; a short last bin is merged into the one before.
    """
    index = np.empty(len(weights), dtype=np.int64)
    current, acc = 0, 0.0
    for i, w in enumerate(weights):
        index[i] = current
        acc += w
        if acc >= minimum:
            current += 1
            acc = 0.0
    if acc < minimum and current > 0:  # leftover tail below the minimum joins the previous bin
        index[index == current] = current - 1
    return index


def chi2_two_sample(x: np.ndarray, y: np.ndarray) -> tuple[float, int, float]:
    """Chi-squared test that two integer samples come from one law (2 × k homogeneity table).

    Bins are runs of consecutive values, merged until the expected count of the *smaller* sample
    in each bin (from the pooled frequencies) is at least :data:`MIN_EXPECTED`. Returns
    (statistic, degrees of freedom, p).
    """
    x = np.asarray(x).astype(np.int64)
    y = np.asarray(y).astype(np.int64)
    values, inv = np.unique(np.concatenate([x, y]), return_inverse=True)
    pooled = np.bincount(inv, minlength=len(values)).astype(float)
    n_small = min(len(x), len(y))
    expected_small = pooled * n_small / (len(x) + len(y))
    bins = _merge_bins(expected_small, MIN_EXPECTED)
    k = int(bins.max()) + 1
    if k < 2:
        return 0.0, 0, 1.0
    ox = np.bincount(bins[inv[: len(x)]], minlength=k)
    oy = np.bincount(bins[inv[len(x) :]], minlength=k)
    stat, p, dof, _ = stats.chi2_contingency(np.vstack([ox, oy]), correction=False)
    return float(stat), int(dof), float(p)


def chi2_goodness_of_fit(x: np.ndarray, pmf: np.ndarray) -> tuple[float, int, float]:
    """Chi-squared test of an integer sample against a pmf on 0, 1, …, len(pmf)-1.

    Bins are merged until each expected count is at least :data:`MIN_EXPECTED`; the last bin takes
    the whole upper tail (including any mass beyond the pmf's support). No parameter is estimated,
    so the degrees of freedom are bins - 1. Returns (statistic, degrees of freedom, p).
    """
    x = np.asarray(x).astype(np.int64)
    pmf = np.clip(np.asarray(pmf, dtype=float), 0.0, None)
    pmf = pmf / pmf.sum()
    bins = _merge_bins(pmf * len(x), MIN_EXPECTED)
    k = int(bins.max()) + 1
    if k < 2:
        return 0.0, 0, 1.0
    expected = np.bincount(bins, weights=pmf, minlength=k) * len(x)
    if (x < 0).any():
        raise ValueError("negative values cannot be tested against a pmf on 0, 1, ...")
    bin_of_x = bins[np.minimum(x, len(pmf) - 1)]
    observed = np.bincount(bin_of_x, minlength=k)
    stat, p = stats.chisquare(observed, expected)
    return float(stat), k - 1, float(p)


def binomial_test(successes: int, trials: int, p: float) -> float:
    """Exact two-sided binomial test."""
    return float(stats.binomtest(int(successes), int(trials), float(p)).pvalue)


def ks_two_sample(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov D and asymptotic p (conservative for discrete laws)."""
    res = stats.ks_2samp(x, y, method="asymp")
    return float(res.statistic), float(res.pvalue)


def ks_critical_distance(n1: int, n2: int, alpha: float) -> float:
    """Asymptotic critical D of the two-sample KS test at level ``alpha``."""
    c = math.sqrt(-math.log(alpha / 2.0) / 2.0)
    return c * math.sqrt((n1 + n2) / (n1 * n2))
