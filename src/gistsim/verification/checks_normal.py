"""Check 7: the skew-corrected normal, at the threshold where the engine starts using it.

Two parts. The exact law of the total (``exact.pmf``, the textbook pgf inverted by FFT) is compared
with the law of the engine's draw (its CDF in closed form) at the threshold n*: their Kolmogorov
distance must not exceed :data:`kendall.NORMAL_LIMIT_MAX_KOLMOGOROV`. This is deterministic, and it
is what backs the engine's error estimate, which is an Edgeworth expansion and not a theorem. Then
``sample_exact`` and ``sample_normal`` are drawn at n* and compared by a two-sample KS test, which
checks that the sampler draws the law the first part measured.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from gistsim.engine import arrivals, kendall, normal_limit
from gistsim.verification import exact
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

#: One-cell laws of the deterministic scan, as (H, survival probability m/(1+H)): from nearly
#: deterministic cells to long steps of fast growth, and from certain survival to one in 10⁴.
#: The scan takes about a second, so both levels run all of it.
SCAN_H = (1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
SCAN_P = (1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.35, 0.5, 0.7, 0.9, 0.99, 0.999, 1.0)


def _first_passing(error_at_one: float, passes) -> int:
    """Smallest n ≥ 1 with ``passes(n)``, searched from the estimate error(1)/ε (the error falls as
    1/n), upwards until it passes."""
    n = max(1, math.floor(error_at_one / normal_limit.MAX_KOLMOGOROV) - 2)
    while not passes(n):
        n += 1
    return n


def threshold_n(m: np.ndarray, h: np.ndarray) -> int:
    """Smallest n at which :func:`kendall.use_normal_limit` is true (n - 1 is sampled exactly)."""
    return _first_passing(
        float(kendall.normal_limit_error(np.ones(1), m, h)[0]),
        lambda n: kendall.use_normal_limit(np.array([n]), m, h)[0],
    )


def draw_cdf(x: np.ndarray, k1: float, k2: float, k3: float) -> np.ndarray:
    """P(normal_limit.draw ≤ x) at integers x for a law with cumulants K₁, K₂, K₃: the rounded draw
    is ≤ x iff K₁ + √K₂ (Z + a(Z² − 1)) < x + ½.

    Inverts the quadratic on the branch the sampler keeps (the root nearest w, for either sign of a).
    """
    a = k3 / (6.0 * k2**1.5)
    w = (np.asarray(x, dtype=float) + 0.5 - k1) / math.sqrt(k2)
    if a == 0.0:
        return ndtr(w)
    disc = 1.0 + 4.0 * a * (a + w)
    z = 2.0 * (a + w) / (1.0 + np.sqrt(np.maximum(disc, 0.0)))
    outside = 0.0 if a > 0 else 1.0  # below the draw's minimum, or above its maximum
    return np.where(disc >= 0, ndtr(z), outside)


def rates_for(m: float, h: float) -> tuple[list[float], list[float], list[float]]:
    """One piece of one day with the given (m, H): r = ln m, b = H r / (e^r − 1), d = b − r."""
    r = math.log(m)
    b = h if r == 0.0 else h * r / math.expm1(r)
    return [1.0], [b], [max(b - r, 0.0)]


def exact_distance(n: int, durations, b, d) -> float:
    """Kolmogorov distance between the exact law of the total of ``n`` cells and the draw's law."""
    p = exact.pmf(n, durations, b, d)
    m, h = kendall.compose_mh(np.asarray(durations, float), np.asarray(b, float)[:, None], np.asarray(d, float)[:, None])
    k1, k2, k3, _ = (float(v[0]) for v in kendall.total_cumulants(np.array([n]), m, h))
    return float(np.max(np.abs(np.cumsum(p) - draw_cdf(np.arange(len(p)), k1, k2, k3))))


def scan_thresholds() -> tuple[float, list[str]]:
    """Exact distance / ε at the threshold over the grid of one-cell laws; (worst, lines)."""
    eps = kendall.NORMAL_LIMIT_MAX_KOLMOGOROV
    worst, lines = 0.0, []
    for h in SCAN_H:
        for p in SCAN_P:
            m = p * (1.0 + h)
            durations, b, d = rates_for(m, h)
            mm, hh = kendall.compose_mh(np.asarray(durations), np.asarray(b)[:, None], np.asarray(d)[:, None])
            n = threshold_n(mm, hh)
            ratio = exact_distance(n, durations, b, d) / eps
            worst = max(worst, ratio)
            lines.append(f"H={h:g} p={p:g}: n*={n:,}, exact distance {ratio:.2f} eps")
    return worst, lines


#: Mutant arrivals from one (clone, mutation) pair: (label, durations, source b, source d,
#: mutant b, mutant d) per piece. Their total size is a compound Poisson over the quadrature nodes.
ARRIVAL_CASES = [
    ("sensitive source under imatinib, resistant mutant", [84.0], [0.04], [0.09], [0.04], [0.035]),
    ("untreated source and mutant", [84.0], [0.04], [0.035], [0.04], [0.035]),
    ("fast mutant (b 0.1, d 0.02)", [84.0], [0.04], [0.035], [0.1], [0.02]),
    ("mutant that cannot divide", [84.0], [0.04], [0.035], [0.0], [0.05]),
    ("resistant source, mutant killed by sunitinib 4/2 x2", SUNITINIB["durations"], SUNITINIB["b_r"],
     SUNITINIB["d_r"], SUNITINIB["b_s"], SUNITINIB["d_s"]),
]


def arrival_profile(durations, bs, ds, bt, dt, rate: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Per quadrature node, λ_j per source cell and the size parameter g_j, on the engine's grid."""
    cols = [np.asarray(v, dtype=float)[:, None] for v in (bs, ds, bt, dt)]
    durations = np.asarray(durations, dtype=float)
    n_sub = arrivals.sub_intervals(durations, *cols)[:, 0]
    m_start = np.vstack([[1.0], np.cumprod(np.exp((cols[0] - cols[1])[:, 0] * durations))[:, None]])
    integrand, geo = arrivals._pair_integrand(
        arrivals._quadrature_grid(durations, n_sub), durations, *cols, m_start, np.array([rate])
    )
    return integrand[:, 0], geo[:, 0]


def compound_poisson_pmf(lam: np.ndarray, geo: np.ndarray) -> np.ndarray:
    """pmf on 0, 1, …, L−1 of Σ_j Σ_{i ≤ K_j} G_ji, K_j ~ Poisson(λ_j), G_ji geometric(g_j) on
    {1, 2, …}: the pgf exp(Σ_j λ_j (G_j(s) − 1)) on the unit circle, inverted by FFT (L doubled
    until the top quarter of the grid holds less than 1e-13)."""
    mean = float(np.sum(lam / geo))
    sd = math.sqrt(float(np.sum(lam * (2.0 - geo) / geo**2)))
    size = 1 << max(8, math.ceil(math.log2(mean + 40.0 * sd + 64.0)))
    while True:
        s = np.exp(-2j * np.pi * np.arange(size) / size)[:, None]
        gs = geo * s / (1.0 - (1.0 - geo) * s)
        p = np.fft.ifft(np.exp(((gs - 1.0) * lam).sum(axis=1))).real
        if p[3 * size // 4 :].sum() < 1e-13 or size > 1 << 24:
            return np.clip(p, 0.0, None)
        size *= 2


def arrival_threshold(integrand: np.ndarray, geo: np.ndarray) -> int:
    """Smallest source size n0 at which the pair's total size passes ``within_tolerance``."""
    c = arrivals.arrival_cumulants(integrand[:, None], geo[:, None])[1:, 0]
    return _first_passing(float(normal_limit.edgeworth_error(*c)), lambda n: normal_limit.within_tolerance(*(n * c)))


def scan_arrivals() -> tuple[float, list[str]]:
    """Exact distance / ε of the arrivals' normal draw at its threshold, per case; (worst, lines)."""
    worst, lines = 0.0, []
    for label, durations, bs, ds, bt, dt in ARRIVAL_CASES:
        integrand, geo = arrival_profile(durations, bs, ds, bt, dt)
        n0 = arrival_threshold(integrand, geo)
        k1, k2, k3, _ = n0 * arrivals.arrival_cumulants(integrand[:, None], geo[:, None])[:, 0]
        p = compound_poisson_pmf(n0 * integrand, geo)
        ratio = float(np.max(np.abs(np.cumsum(p) - draw_cdf(np.arange(len(p)), k1, k2, k3)))) / normal_limit.MAX_KOLMOGOROV
        worst = max(worst, ratio)
        lines.append(f"arrivals, {label}: {n0 * integrand.sum():.1f} expected arrivals, exact distance {ratio:.2f} eps")
    return worst, lines


def check_normal_limit(level: str, seed: int, *, n_override: int | None = None) -> Verdict:
    """7. The skew-corrected normal at the threshold n*: exact distance ≤ ε, then a two-sample KS.

    ``n_override`` replaces n* in the KS part (the tests use a tiny n to show the KS test does
    reject a normal limit used where it is not valid).
    """
    n_rep = _n(level, 200_000, 2_000_000)
    eps = kendall.NORMAL_LIMIT_MAX_KOLMOGOROV
    streams = rngs(seed, 2 * len(NORMAL_CASES))
    subtests, problems, notes, distances = [], [], [], []
    k = len(NORMAL_CASES)
    d_crit = ks_critical_distance(n_rep, n_rep, ALPHA / k)
    for i, (label, durations, b, d) in enumerate(NORMAL_CASES):
        m, h = kendall.compose_mh(np.asarray(durations), np.asarray(b)[:, None], np.asarray(d)[:, None])
        n_star = threshold_n(m, h)
        n = n_star if n_override is None else n_override
        if n_star > 1 and kendall.use_normal_limit(np.array([n_star - 1]), m, h)[0]:
            problems.append(f"{label}: n* = {n_star} is not the threshold")
        dist_exact = exact_distance(n_star, durations, b, d)
        if dist_exact > eps:
            problems.append(f"{label}: exact Kolmogorov distance {dist_exact:.3g} at n* exceeds {eps:g}")
        nn = np.full(n_rep, n, dtype=np.int64)
        mm, hh = np.full(n_rep, m[0]), np.full(n_rep, h[0])
        x = kendall.sample_exact(streams[2 * i], nn, mm, hh)
        y = kendall.sample_normal(streams[2 * i + 1], nn, mm, hh)
        dist, p = ks_two_sample(x, y)
        distances.append(dist)
        subtests.append(SubTest(f"{label}, n = {n:,}", f"KS D = {dist:.5f}", p))
        notes.append(f"{label}: n* = {n_star:,}, exact distance at n* = {dist_exact:.2e}")
    worst, grid = scan_thresholds()
    if worst > 1.0:
        problems.append(f"threshold scan: exact distance reaches {worst:.2f} eps")
    worst_arr, arrival_lines = scan_arrivals()
    if worst_arr > 1.0:
        problems.append(f"mutant arrivals: exact distance reaches {worst_arr:.2f} eps")
    detail = (
        f"{n_rep:,} draws from each sampler per case; KS critical D at alpha/{k} = {d_crit:.5f}, "
        f"vs the maximum distance {eps:g} (about {d_crit / eps:.1f}x below the sampling noise)\n"
        + "\n".join(notes)
        + f"\nthreshold scan over {len(grid)} one-cell laws: worst exact distance {worst:.2f} eps\n"
        + ("\n".join(grid) + "\n" if level == "full" else "")
        + "\n".join(arrival_lines)
    )
    verdict = combine(
        "normal_limit",
        "exact distance at n* <= eps, and two-sample KS, sample_exact vs sample_normal",
        subtests,
        detail=detail,
        problems=problems,
    )
    verdict.distance = max(distances)
    return verdict
