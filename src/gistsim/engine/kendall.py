"""The law of a linear birth–death process with piecewise-constant rates (Kendall 1948).

One cell, birth rate b(s) and death rate d(s) over [0, T]. With net rate r = b - d write

    m = exp(∫ r)                      (mean growth factor)
    H = ∫_0^T b(s) exp(∫_s^T r) ds    (for constant rates H = b·expm1(rT)/r, → bT as r → 0)

Then the population at T is 0 with probability α = 1 - m/(1+H), and otherwise geometric on
{1, 2, …} with success probability 1/(1+H). This is Kendall's time-inhomogeneous solution written
so that it stays accurate for r → 0 and for strong decline (no e^{rt} - 1 cancellation: both m
and H come from ``expm1``). Pieces compose as (m, H) ∘ (m', H') = (m·m', H·m' + H').

For n cells, K ~ Binomial(n, m/(1+H)) lineages survive and the total is K + NegBinomial(K, 1/(1+H)).
For large n the total is replaced by a skew-corrected normal (Cornish–Fisher, rounded) where the
Edgeworth estimate of the Kolmogorov distance between the two laws is below
:data:`NORMAL_LIMIT_MAX_KOLMOGOROV`; see :func:`normal_limit_error`.
"""

from __future__ import annotations

import numpy as np

from gistsim.engine import _kernels, normal_limit
from gistsim.streams import Draws, as_draws, owners

#: Re-exported: the engine's normal-limit tolerance and count ceiling (see :mod:`.normal_limit`).
NORMAL_LIMIT_MAX_KOLMOGOROV = normal_limit.MAX_KOLMOGOROV
MAX_CELLS = normal_limit.MAX_CELLS

#: Clones of at most this many cells draw their surviving lineages cell by cell (see :func:`sample_exact`).
CELL_BY_CELL_MAX = 8

#: Up to this many surviving lineages draw their sizes lineage by lineage (see :func:`sample_exact`).
LINEAGE_BY_LINEAGE_MAX = 8

#: The same two limits with per-patient streams, where uniforms come in one call per patient but
#: every binomial or negative-binomial element is a scalar call (0.6–3.5 µs measured in a trial):
#: following up to 32 cells or 64 lineages one uniform each is cheaper there.
CELL_BY_CELL_MAX_PER_PATIENT = 32
LINEAGE_BY_LINEAGE_MAX_PER_PATIENT = 64


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


def _cumulant_parts(m: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """κ₂, κ₃ and κ₄/κ₂ of one cell's descendants, factored so that nothing cancels as the law
    becomes degenerate (δ = 1 − m): κ₂ = m(2H + δ), κ₃ = m(6H² + 6Hδ + δ(2δ − 1)),
    κ₄/κ₂ = 12H(H + δ) + 1 − 6mδ (from the factorial moments m·k!·H^(k−1))."""
    m = np.asarray(m, dtype=float)
    h = np.asarray(h, dtype=float)
    dl = 1.0 - m
    k2 = np.maximum(m * (2.0 * h + dl), 0.0)
    k3 = m * (6.0 * h * h + 6.0 * h * dl + dl * (2.0 * dl - 1.0))
    return k2, k3, 12.0 * h * (h + dl) + 1.0 - 6.0 * m * dl


def total_cumulants(n: np.ndarray, m: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, ...]:
    """K₁…K₄ of the total of ``n`` cells: n times the one-cell cumulants (:func:`_cumulant_parts`)."""
    nf = np.asarray(n, dtype=float)
    k2, k3, k4_over_k2 = _cumulant_parts(m, h)
    return nf * np.asarray(m, dtype=float), nf * k2, nf * k3, nf * k2 * k4_over_k2


def normal_limit_error(n: np.ndarray, m: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Estimated sup_x |P(N ≤ x) − P(N̂ ≤ x)| between the total N of ``n`` cells and its
    skew-corrected normal draw N̂ (:func:`sample_normal`), safety factor included.

    O(1/n), where the plain normal's error is O(1/√n); see :mod:`gistsim.engine.normal_limit`.
    Zero where the law is a point mass (nothing to approximate).
    """
    return normal_limit.edgeworth_error(*total_cumulants(n, m, h)[1:])


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
    takes the cheaper of two exact ways (the limits are larger with per-patient streams, where
    uniforms are cheaper still): clones of at most :data:`CELL_BY_CELL_MAX` cells draw a
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
    cell_max, lineage_max = (
        (CELL_BY_CELL_MAX_PER_PATIENT, LINEAGE_BY_LINEAGE_MAX_PER_PATIENT)
        if d.per_patient
        else (CELL_BY_CELL_MAX, LINEAGE_BY_LINEAGE_MAX)
    )
    tiny = n <= cell_max
    if tiny.all():
        k = _alive_cell_by_cell(d, n, p, owner)
    else:
        k = np.empty(len(n), dtype=np.int64)
        ti, rest = np.flatnonzero(tiny), np.flatnonzero(~tiny)
        if len(ti):
            k[ti] = _alive_cell_by_cell(d, n[ti], p[ti], d.owners_at(owner, ti))
        k[rest] = d.binomial(d.owners_at(owner, rest), n[rest], p[rest])
    q = 1.0 / (1.0 + h)
    few = k <= lineage_max
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
    """Skew-corrected normal draw of the total of ``n`` cells (one-term Cornish–Fisher,
    :func:`gistsim.engine.normal_limit.draw`)."""
    return _draw_normal(as_draws(rng), n, *total_cumulants(n, m, h)[:3], owner)


def _draw_normal(d: Draws, n: np.ndarray, k1, k2, k3, owner: np.ndarray | None) -> np.ndarray:
    nf = np.asarray(n, dtype=float)
    z = d.standard_normal(owners(d, owner, nf.size).reshape(nf.shape) if nf.ndim else owners(d, owner, 1)[0])
    return normal_limit.draw(z, k1, k2, k3)


def use_normal_limit(n: np.ndarray, m: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Where the skew-corrected normal may replace exact draws (estimated error ≤ the stated maximum).

    Point masses (no birth and no death, or certain death) pass: there is nothing to approximate.
    """
    return normal_limit.within_tolerance(*total_cumulants(n, m, h)[1:])


def sample_total(rng, n: np.ndarray, m: np.ndarray, h: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
    """Total descended from ``n`` cells: exact draws, or the skew-corrected normal where it is within ε."""
    d = as_draws(rng)
    if d.compiles:
        return _total_compiled(d, n, m, h, owner)
    owner = owners(d, owner, len(n))
    # The cumulants decide the path and parameterise the normal draw: computed once.
    k1, k2, k3, k4 = total_cumulants(n, m, h)
    normal = normal_limit.within_tolerance(k2, k3, k4)
    if normal.all():
        return _draw_normal(d, n, k1, k2, k3, owner)
    if not normal.any():
        return sample_exact(d, n, m, h, owner)
    out = np.empty(np.shape(n), dtype=np.int64)
    ni, ei = np.flatnonzero(normal), np.flatnonzero(~normal)
    out[ni] = _draw_normal(d, n[ni], k1[ni], k2[ni], k3[ni], d.owners_at(owner, ni))
    out[ei] = sample_exact(d, n[ei], m[ei], h[ei], d.owners_at(owner, ei))
    return out


def _total_compiled(d: Draws, n, m, h, owner) -> np.ndarray:
    """:func:`sample_total` in one compiled pass per clone (:mod:`._kernels`), from one generator
    or each owner's."""
    n, m, h = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(m, dtype=float), np.asarray(h, dtype=float))
    flat = [np.ascontiguousarray(a).ravel() for a in (n, m, h)]
    gens, gi, _ = d.compiled(None if owner is None else np.asarray(owner).ravel(), len(flat[0]))
    return _kernels.sample_total(
        gens, gi, *flat, CELL_BY_CELL_MAX, LINEAGE_BY_LINEAGE_MAX, normal_limit.MAX_KOLMOGOROV
    ).reshape(n.shape)


def mean_variance(n: np.ndarray, m: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form mean and variance of the total of ``n`` cells."""
    mean, var, _ = single_cell_moments(m, h)
    return n * mean, n * var
