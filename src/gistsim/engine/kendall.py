"""The law of a linear birth–death process with piecewise-constant rates (Kendall 1948).

One cell, birth rate b(s) and death rate d(s) over [0, T]. With net rate r = b - d write

    m = exp(∫ r)                      (mean growth factor)
    H = ∫_0^T b(s) exp(∫_s^T r) ds    (for constant rates H = b·expm1(rT)/r, → bT as r → 0)

Then the population at T is 0 with probability α = 1 - m/(1+H), and otherwise geometric on
{1, 2, …} with success probability 1/(1+H). This is Kendall's time-inhomogeneous solution written
so that it stays accurate for r → 0 and for strong decline (no e^{rt} - 1 cancellation: both m
and H come from ``expm1``). Pieces compose as (m, H) ∘ (m', H') = (m·m', H·m' + H').

For n cells, K ~ Binomial(n, m/(1+H)) lineages survive and the total is K + NegBinomial(K, 1/(1+H)).
For large n the total is replaced by its normal limit (rounded, clipped at 0) when the
Berry–Esseen bound on the Kolmogorov distance between the two laws is below
:data:`NORMAL_LIMIT_MAX_KOLMOGOROV`; see :func:`berry_esseen_bound`.
"""

from __future__ import annotations

import numpy as np

from gistsim.streams import Draws, as_draws, owners

#: Berry–Esseen constant for i.i.d. sums (Shevtsova 2011, "On the absolute constants in the
#: Berry–Esseen type inequalities", Dokl. Math. 83:862): sup|F_n - Φ| ≤ C·ρ/(σ³√n).
BERRY_ESSEEN_C = 0.4748

#: Largest Kolmogorov distance accepted between the exact law of a clone's size and the normal
#: limit used in its place. A two-sample KS test needs about (1.36/ε)² ≈ 1.8 million draws from the
#: *same* clone state to see a difference this small at α = 0.05; the engine never draws a state
#: more than once, so the approximation is invisible below any sampling noise a user can produce.
NORMAL_LIMIT_MAX_KOLMOGOROV = 1e-3

#: Largest clone size the int64 counts hold; normal-limit draws above it saturate here instead of
#: wrapping round to negative numbers. 2**62 cells is ~1.5e10 cm³ at 3e8 cells/cm³, a million times
#: any lethal burden: the clinic has killed the patient long before (clinic.death.lethal_volume_cm3).
MAX_CELLS = float(2**62)

#: Clones of at most this many cells draw their surviving lineages cell by cell (see :func:`sample_exact`).
CELL_BY_CELL_MAX = 8

#: Up to this many surviving lineages draw their sizes lineage by lineage (see :func:`sample_exact`).
LINEAGE_BY_LINEAGE_MAX = 8


def phi(r: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``expm1(r t) / r``, continuous at r = 0 (where it equals t)."""
    r = np.asarray(r, dtype=float)
    t = np.asarray(t, dtype=float)
    rt = r * t
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.expm1(rt) / r
    # The series only where it is needed (most rates are far from r = 0).
    small = np.abs(rt) < 1e-8
    if small.any():
        out = np.where(small, t * (1.0 + 0.5 * rt), out)
    return out


def piece_mh(birth: np.ndarray, death: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, H) of one piece of constant rates lasting ``t`` days."""
    r = birth - death
    return np.exp(r * t), birth * phi(r, t)


def compose_mh(durations: np.ndarray, birth: np.ndarray, death: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, H) over consecutive pieces.

    ``durations`` has shape (P,), ``birth`` and ``death`` shape (P, ...) in per-day units.
    """
    m = np.ones(np.shape(birth)[1:])
    h = np.zeros(np.shape(birth)[1:])
    for k in range(len(durations)):
        mk, hk = piece_mh(birth[k], death[k], durations[k])
        h = h * mk + hk
        m = m * mk
    return m, h


def survival_probability(m: np.ndarray, h: np.ndarray) -> np.ndarray:
    """P(a single cell's lineage is alive at the end) = m / (1 + H), clipped to [0, 1]."""
    return np.minimum(m / (1.0 + h), 1.0)


def single_cell_moments(m: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, variance and E[X³] of one cell's descendants X at the end of the interval.

    X = B·Y with B ~ Bernoulli(m/(1+H)) and Y geometric on {1,…} with mean 1+H, so
    E X = m, E X² = m(1+2H), E X³ = m(6H² + 6H + 1).
    """
    mean = m
    var = np.maximum(m * (1.0 + 2.0 * h) - m * m, 0.0)
    third = m * (6.0 * h * h + 6.0 * h + 1.0)
    return mean, var, third


def berry_esseen_bound(n: np.ndarray, m: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Upper bound on sup_x |P(N ≤ x) - Φ((x - μ)/σ)| for N the total of ``n`` cells.

    Uses ρ = E|X - μ|³ ≤ E X³ + μ³ (valid for X ≥ 0). Rounding the normal to the nearest integer
    leaves the bound unchanged at integers, where the Kolmogorov distance of integer laws is
    attained. Returns +inf where the variance is zero (nothing to approximate; handled apart).
    """
    mean, var, third = single_cell_moments(m, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (third + mean**3) / var**1.5
        out = BERRY_ESSEEN_C * kappa / np.sqrt(np.asarray(n, dtype=float))
    return np.where(var > 0, out, np.inf)


def _alive_cell_by_cell(d: Draws, n: np.ndarray, p: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Surviving lineages of each clone: one uniform per cell, alive with probability ``p``."""
    cell = np.repeat(np.arange(len(n)), n)
    alive = d.random(d.owners_at(owner, cell)) < p[cell]
    return np.bincount(cell[alive], minlength=len(n))


def geometric_by_inversion(rng, log_q: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
    """Geometric draws on {1, 2, …} with P(X > k) = q^k, given log q (exact inversion).

    Cheaper than ``Generator.geometric`` when log q is already at hand; q = 0 gives 1.
    """
    d = as_draws(rng)
    u = 1.0 - d.random(owners(d, owner, len(log_q)))  # in (0, 1], so log u is finite
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor(np.log(u) / log_q)
    return np.where(log_q < 0, k, 0.0).astype(np.int64) + 1


def _sizes_lineage_by_lineage(d: Draws, k: np.ndarray, q: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Total cells of ``k`` surviving lineages: a geometric size per lineage, by inversion, summed."""
    total = np.asarray(k, dtype=np.int64).copy()
    some = np.flatnonzero(k > 0)
    if len(some) == 0:
        return total
    reps = k[some]
    lineage = np.repeat(np.arange(len(some)), reps)
    with np.errstate(divide="ignore"):  # q = 1 (H = 0): log 0 = -inf, every lineage has one cell
        log_1mq = np.log1p(-q[some])
    sizes = geometric_by_inversion(d, log_1mq[lineage], d.owners_at(owner, some[lineage]))
    starts = np.cumsum(reps) - reps  # lineages of one clone are contiguous
    total[some] = np.add.reduceat(sizes, starts)
    return total


def _sizes_negative_binomial(d: Draws, k: np.ndarray, q: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Total cells of ``k`` surviving lineages: k + NegBinomial(k, q)."""
    total = np.asarray(k, dtype=np.int64).copy()
    some = np.flatnonzero(k > 0)
    if len(some):
        total[some] += d.negative_binomial(d.owners_at(owner, some), k[some], q[some])
    return total


def _sample_cell_by_cell(rng, n: np.ndarray, m: np.ndarray, h: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
    """Exact draw by following each cell's lineage: alive with probability m/(1+H), then geometric."""
    d = as_draws(rng)
    owner = owners(d, owner, len(n))
    k = _alive_cell_by_cell(d, n, survival_probability(m, h), owner)
    return _sizes_lineage_by_lineage(d, k, 1.0 / (1.0 + h), owner)


def sample_exact(rng, n: np.ndarray, m: np.ndarray, h: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
    """Exact draw of the total descended from ``n`` cells (int64 array).

    K surviving lineages, then their K geometric sizes on {1, 2, …} with mean 1+H. Each stage
    takes the cheaper of two exact ways: clones of at most :data:`CELL_BY_CELL_MAX` cells draw a
    uniform per cell, larger ones K ~ Binomial(n, m/(1+H)) (numpy's per-element binomial set-up
    costs more than a few uniforms); up to :data:`LINEAGE_BY_LINEAGE_MAX` survivors draw a size
    per lineage by inversion, more draw the sum as K + NegBinomial(K, 1/(1+H)) (gamma and
    Poisson draws cost more than a few logarithms).
    ``rng``: a Generator, :class:`~gistsim.streams.PatientStreams` or Draws; ``owner``: the
    stream of each clone (needed with per-patient streams).
    """
    d = as_draws(rng)
    owner = owners(d, owner, len(n))
    p = survival_probability(m, h)
    tiny = n <= CELL_BY_CELL_MAX
    if tiny.all():
        k = _alive_cell_by_cell(d, n, p, owner)
    else:
        k = np.empty(len(n), dtype=np.int64)
        ti, rest = np.flatnonzero(tiny), np.flatnonzero(~tiny)
        if len(ti):
            k[ti] = _alive_cell_by_cell(d, n[ti], p[ti], d.owners_at(owner, ti))
        k[rest] = d.binomial(d.owners_at(owner, rest), n[rest], p[rest])
    q = 1.0 / (1.0 + h)
    few = k <= LINEAGE_BY_LINEAGE_MAX
    if few.all():
        return _sizes_lineage_by_lineage(d, k, q, owner)
    out = np.empty(len(n), dtype=np.int64)
    fi, many = np.flatnonzero(few), np.flatnonzero(~few)
    if len(fi):
        out[fi] = _sizes_lineage_by_lineage(d, k[fi], q[fi], d.owners_at(owner, fi))
    out[many] = _sizes_negative_binomial(d, k[many], q[many], d.owners_at(owner, many))
    return out


def _sample_lineages(rng, n: np.ndarray, m: np.ndarray, h: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
    """Exact draw as K ~ Binomial(n, m/(1+H)) survivors and K + NegBinomial(K, 1/(1+H)) cells."""
    d = as_draws(rng)
    owner = owners(d, owner, len(n))
    k = d.binomial(owner, n, survival_probability(m, h))
    return _sizes_negative_binomial(d, k, 1.0 / (1.0 + h), owner)


def sample_normal(rng, n: np.ndarray, m: np.ndarray, h: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
    """Normal-limit draw of the total of ``n`` cells: round(μ + σZ), clipped at 0."""
    d = as_draws(rng)
    nf = np.asarray(n, dtype=float)
    mean, var, _ = single_cell_moments(m, h)
    z = d.standard_normal(owners(d, owner, nf.size).reshape(nf.shape) if nf.ndim else owners(d, owner, 1)[0])
    x = np.rint(nf * mean + np.sqrt(nf * var) * z)
    return np.clip(x, 0.0, MAX_CELLS).astype(np.int64)


def use_normal_limit(n: np.ndarray, m: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Where the normal limit may replace exact draws (its error ≤ the stated bound)."""
    mean, var, third = single_cell_moments(m, h)
    nf = np.asarray(n, dtype=float)
    # Same inequality as berry_esseen_bound, squared and rearranged to avoid divisions:
    # C²·(E X³ + μ³)² ≤ ε²·n·σ⁶.
    lhs = (BERRY_ESSEEN_C * (third + mean**3)) ** 2
    rhs = NORMAL_LIMIT_MAX_KOLMOGOROV**2 * nf * var**3
    return (lhs <= rhs) | (var == 0)


def sample_total(rng, n: np.ndarray, m: np.ndarray, h: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
    """Total descended from ``n`` cells: exact draws, or the normal limit where it is provably close."""
    d = as_draws(rng)
    owner = owners(d, owner, len(n))
    normal = use_normal_limit(n, m, h)
    if normal.all():
        return sample_normal(d, n, m, h, owner)
    if not normal.any():
        return sample_exact(d, n, m, h, owner)
    out = np.empty(np.shape(n), dtype=np.int64)
    ni, ei = np.flatnonzero(normal), np.flatnonzero(~normal)
    out[ni] = sample_normal(d, n[ni], m[ni], h[ni], d.owners_at(owner, ni))
    out[ei] = sample_exact(d, n[ei], m[ei], h[ei], d.owners_at(owner, ei))
    return out


def mean_variance(n: np.ndarray, m: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form mean and variance of the total of ``n`` cells."""
    mean, var, _ = single_cell_moments(m, h)
    return n * mean, n * var
