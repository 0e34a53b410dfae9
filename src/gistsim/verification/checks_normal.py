"""Check 7: the normal limit, at the threshold where the engine starts using it."""

from __future__ import annotations

import math

import numpy as np

from gistsim.engine import kendall
from gistsim.verification.checks_birth_death import SUNITINIB, _n
from gistsim.verification.sampling import rngs
from gistsim.verification.stats import ks_critical_distance, ks_two_sample
from gistsim.verification.verdict import ALPHA, SubTest, Verdict, combine

#: (label, durations, birth per piece, death per piece).
NORMAL_CASES = [
    ("super b=1 d=0.5 t=2", [2.0], [1.0], [0.5]),
    ("sub b=0.5 d=1 t=1", [1.0], [0.5], [1.0]),
    ("critical b=d=0.7 t=2", [2.0], [0.7], [0.7]),
    ("sunitinib 4/2 x2 (S)", SUNITINIB["durations"], SUNITINIB["b_s"], SUNITINIB["d_s"]),
]


def threshold_n(m: np.ndarray, h: np.ndarray) -> int:
    """Smallest n at which :func:`kendall.use_normal_limit` is true (n - 1 is sampled exactly)."""
    mean, var, third = kendall.single_cell_moments(m, h)
    guess = (kendall.BERRY_ESSEEN_C * (third + mean**3)) ** 2 / (
        kendall.NORMAL_LIMIT_MAX_KOLMOGOROV**2 * var**3
    )
    n = max(1, int(math.floor(float(guess[0]))) - 2)
    while not kendall.use_normal_limit(np.array([n]), m, h)[0]:
        n += 1
    return n


def check_normal_limit(level: str, seed: int, *, n_override: int | None = None) -> Verdict:
    """7. ``sample_exact`` vs ``sample_normal`` right at the threshold n*: two-sample KS.

    The Berry–Esseen bound at n* (≤ 1e-3 by construction) is reported next to the KS critical
    distance for the sample size: the approximation error sits far below the sampling noise of any
    test we can afford. ``n_override`` replaces n* (the tests use a tiny n to show the KS test does
    reject a normal limit used where it is not valid).
    """
    n_rep = _n(level, 200_000, 2_000_000)
    streams = rngs(seed, 2 * len(NORMAL_CASES))
    subtests, problems, notes, distances = [], [], [], []
    k = len(NORMAL_CASES)
    d_crit = ks_critical_distance(n_rep, n_rep, ALPHA / k)
    for i, (label, durations, b, d) in enumerate(NORMAL_CASES):
        m, h = kendall.compose_mh(np.asarray(durations), np.asarray(b)[:, None], np.asarray(d)[:, None])
        n_star = threshold_n(m, h)
        n = n_star if n_override is None else n_override
        if n_override is None and (
            not kendall.use_normal_limit(np.array([n]), m, h)[0]
            or kendall.use_normal_limit(np.array([n - 1]), m, h)[0]
        ):
            problems.append(f"{label}: n* = {n} is not the threshold")
        bound = float(kendall.berry_esseen_bound(np.array([n]), m, h)[0])
        if n_override is None and bound > kendall.NORMAL_LIMIT_MAX_KOLMOGOROV:
            problems.append(f"{label}: Berry-Esseen bound {bound:.3g} at n* exceeds the stated maximum")
        nn = np.full(n_rep, n, dtype=np.int64)
        mm, hh = np.full(n_rep, m[0]), np.full(n_rep, h[0])
        x = kendall.sample_exact(streams[2 * i], nn, mm, hh)
        y = kendall.sample_normal(streams[2 * i + 1], nn, mm, hh)
        dist, p = ks_two_sample(x, y)
        distances.append(dist)
        subtests.append(SubTest(f"{label}, n = {n:,}", f"KS D = {dist:.5f}", p))
        notes.append(f"{label}: n* = {n_star:,}, Berry-Esseen bound at n = {bound:.2e}")
    detail = (
        f"{n_rep:,} draws from each sampler per case; KS critical D at alpha/{k} = {d_crit:.5f}, "
        f"vs the Berry-Esseen bound <= {kendall.NORMAL_LIMIT_MAX_KOLMOGOROV:g} (about "
        f"{d_crit / kendall.NORMAL_LIMIT_MAX_KOLMOGOROV:.1f}x below the sampling noise)\n" + "\n".join(notes)
    )
    verdict = combine(
        "normal_limit",
        "two-sample KS, sample_exact vs sample_normal at n*",
        subtests,
        detail=detail,
        problems=problems,
    )
    verdict.distance = max(distances)
    return verdict
