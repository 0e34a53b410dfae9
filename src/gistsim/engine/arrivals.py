"""Mutant arrivals during one step that survive to the step's end.

A clone of genotype g with n cells at the step's start produces mutants of genotype g'_k at rate
u_k·b(s)·N(s). Only lineages alive at the end matter: by Poisson thinning their number is
Poisson with mean Λ_k = u_k ∫ b(s) N(s) p_k(s) ds, where p_k(s) is the probability that a mutant
lineage founded at s is alive at T (Kendall, with the mutant's own rates), and each survivor's size
at T is geometric on {1, 2, …} with mean 1 + H_k(s, T).

Approximations, all measured by the verification suite:

* N(s) is the expected path n·exp(∫_0^s r) between the step's endpoints (DESIGN §3). The error
  shows only for small clones with a large mutant supply: at u·n = 2 over a 4-on/2-off schedule,
  P(any mutant at the end) is 0.016 too high at n = 100, 0.008 at n = 300 and not measurable at
  n = 1000 (verification check 4's docstring); with realistic u ≈ 1e-8, u·n ≥ 1 needs n ≥ 1e8,
  where the path is deterministic to a part in 1e4.
* The source clone does not lose the dividing cell that becomes a mutant (an O(u) effect), and a
  mutant founded during the step does not mutate again until the next step (O(u²)).
* Clones with a large supply use Gauss–Legendre quadrature for Λ_k, on sub-intervals where every
  rate × length is at most :data:`MAX_SPAN` (4-point rule: relative error below 3e-7), and resolve
  each arrival's founding time to a quadrature node, drawn with the node's share of Λ_k; its size
  is geometric with that node's parameter. This discretises the founding times on a grid of
  spacing ≤ MAX_SPAN / (rate × GL_NODES).
* A (clone, mutation) pair expecting more than :data:`AGGREGATE_ABOVE` arrivals whose total size
  (a compound Poisson over the nodes, cumulants from :func:`arrival_cumulants`) is close enough
  to its skew-corrected normal (:mod:`gistsim.engine.normal_limit`, Kolmogorov error ≤ 1e-3,
  checked against the exact law by verification check 7) draws that total in one normal draw.

Clones whose bound n·U·∫b·M on the expected number of arrivals is below :data:`THINNING_BELOW`
skip the quadrature: candidates are drawn from the bound and kept with probability p_k(s), which
is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gistsim.engine import _kernels, _quadrature_kernels, normal_limit
from gistsim.engine.kendall import geometric_by_inversion, piece_mh
from gistsim.engine.rates import MutationModel, RateModel
from gistsim.streams import Draws, owners

#: Gauss–Legendre nodes per quadrature sub-interval.
GL_NODES = 4
#: Largest |rate| × length of a quadrature sub-interval.
MAX_SPAN = 2.0
#: Clones expecting fewer candidate arrivals than this use exact thinning instead of quadrature
#: (with one generator: compiled thinning costs ~80 ns per candidate and about half the
#: candidates die before the step's end, where a compiled quadrature pair costs ~60 ns with its
#: lineages; 10 measured fastest on benchmarks/engine.py's issue mix, 3–6% ahead of 20 and 5).
THINNING_BELOW = 10.0
#: The same with per-patient streams (numpy paths, other costs).
THINNING_BELOW_PER_PATIENT = 20.0
#: (clone, mutation) pairs expecting more surviving arrivals than this draw them per node, not per lineage.
AGGREGATE_ABOVE = 16.0
#: The same with per-patient streams. There every Poisson or negative-binomial element is a scalar
#: call (~0.5 µs) while uniforms come in one call per patient, so drawing a node and a size per
#: lineage stays cheaper than two draws per node up to about this many arrivals.
AGGREGATE_ABOVE_PER_PATIENT = 1000.0

#: Re-exported: the cap on arrivals' Poisson means (see :mod:`._kernels`).
POISSON_MEAN_MAX = _kernels.POISSON_MEAN_MAX

_GL_X, _GL_W = np.polynomial.legendre.leggauss(GL_NODES)


@dataclass
class Arrivals:
    """Mutant lineages founded during a step and alive at its end, summed per (source, genotype)."""

    source: np.ndarray
    """Row of the founding clone in the clone table at the step's start."""
    genotype: np.ndarray
    """Genotype code of the mutants."""
    size: np.ndarray
    """Total cells at the step's end of the surviving mutant lineages that clone founded with that
    genotype (a sum of geometric sizes, one per lineage, or its normal limit for large sums)."""

    @classmethod
    def empty(cls) -> Arrivals:
        e = np.empty(0, dtype=np.int64)
        return cls(e, e.astype(np.int32), e)

    @classmethod
    def concat(cls, parts: list[Arrivals]) -> Arrivals:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("source", "genotype", "size")))


def _lesions(rates: RateModel, lesion: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """The lesions of ``rows`` for the rate model, or None where it does not use them (a gather
    per call saved; models say so with ``uses_lesion = False``)."""
    return None if lesion is None or not getattr(rates, "uses_lesion", True) else lesion[rows]


def _survival_from(
    piece: np.ndarray, offset: np.ndarray, durations: np.ndarray, bt: np.ndarray, dt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For lineages founded at (piece, offset) with rates bt, dt (P, A): P(alive at T) and 1/(1+H)."""
    if len(durations) == 1:
        m, h = piece_mh(bt[0], dt[0], durations[0] - offset)
    else:
        cols = np.arange(bt.shape[1])
        m, h = piece_mh(bt[piece, cols], dt[piece, cols], durations[piece] - offset)
        for k in range(1, len(durations)):
            later = piece < k
            if later.any():
                mk, hk = piece_mh(bt[k], dt[k], durations[k])
                h = np.where(later, h * mk + hk, h)
                m = np.where(later, m * mk, m)
    q = 1.0 / (1.0 + h)
    return np.minimum(m * q, 1.0), q


def _offset_in_piece(u: np.ndarray, r: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Offsets in [0, length] with density ∝ exp(r·x), by inverting the CDF at the uniforms ``u``."""
    rl = r * length
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log1p(u * np.expm1(rl)) / r
    small = np.abs(rl) < 1e-8
    if small.any():
        x = np.where(small, u * length, x)
    return np.clip(x, 0.0, length)


def founding_times(u_piece, u_offset, cols, durations, weight, b, d) -> tuple[np.ndarray, np.ndarray]:
    """Founding (piece, offset) of candidates from columns ``cols`` of the per-piece ``weight``
    (P, C) and rates: the piece ∝ its weight, the offset within it ∝ exp(r x), from the uniforms."""
    if len(durations) == 1:
        piece = np.zeros(len(cols), dtype=np.int64)
        r = b[0].take(cols) - d[0].take(cols)
    else:
        cum = np.cumsum(weight.take(cols, axis=1), axis=0)
        piece = np.minimum((u_piece * cum[-1] > cum).sum(axis=0), len(durations) - 1)
        r = b[piece, cols] - d[piece, cols]
    return piece, _offset_in_piece(u_offset, r, durations[piece])


def _thinning(
    rng: Draws,
    rows: np.ndarray,
    n0: np.ndarray,
    bound: np.ndarray,
    group: np.ndarray,
    genotype: np.ndarray,
    durations: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    supply_piece: np.ndarray,
    rates: RateModel,
    mutation: MutationModel,
    lesion: np.ndarray | None = None,
) -> Arrivals:
    """Exact arrivals for the given clone rows by thinning candidates drawn from ``bound``.

    ``bound`` counts candidates at the rate of *every* secondary mutation (Σ_k u_k); a candidate
    draws its mutation k ∝ u_k and is kept only if the clone can acquire k and the lineage is
    alive at the step's end. Drawing k from one shared table is cheaper than a per-genotype one.
    (The compiled path draws the possible candidates only, per mutation and piece: the same law.)
    """
    if rng.compiles:
        return _thinning_compiled(
            rng.compiled(group, len(group)), rows, n0, bound, group, genotype, durations, b, d, supply_piece, rates,
            mutation, lesion,
        )  # fmt: skip
    n_cand = rng.poisson(rng.owners_at(group, rows), bound)
    if not n_cand.any():
        return Arrivals.empty()
    src = np.repeat(rows, n_cand)
    owner = rng.owners_at(group, src)
    # Three uniforms per candidate (mutation, piece, offset), drawn before candidates that cannot
    # happen are dropped, and one for the piece whatever the number of pieces: a patient's stream
    # then advances the same way when its step is cut into more pieces for the sake of others.
    # One call for the three (an owner's uniforms come out in the same order as from three calls).
    u_mut, u_piece, u_offset = rng.random(np.concatenate([owner, owner, owner])).reshape(3, -1)
    cum_u = np.cumsum(mutation.rate_per_division)
    k = np.searchsorted(cum_u, u_mut * cum_u[-1], side="right")
    target = mutation.mutant_of[genotype[src], np.minimum(k, len(cum_u) - 1)]
    possible = target >= 0
    if not possible.all():
        src, target, u_piece, u_offset = src[possible], target[possible], u_piece[possible], u_offset[possible]
    # Piece ∝ its share of ∫ b·M, then the offset within it ∝ exp(r x).
    piece, offset = founding_times(u_piece, u_offset, src, durations, supply_piece, b, d)
    bt, dt = rates.rates(group[src], target, _lesions(rates, lesion, src))
    p, g = _survival_from(piece, offset, durations, bt, dt)
    keep = np.flatnonzero(rng.random(rng.owners_at(group, src)) < p)
    if len(keep) == 0:
        return Arrivals.empty()
    with np.errstate(divide="ignore"):  # g = 1 (a mutant that cannot divide): log 0 = -inf, size 1
        log_q = np.log1p(-g[keep])
    src = src[keep]
    size = geometric_by_inversion(rng, log_q, rng.owners_at(group, src))
    return Arrivals(src, target[keep].astype(np.int32), size)


def _thinning_compiled(
    compiled, rows, n0, bound, group, genotype, durations, b, d, supply_piece, rates, mutation, lesion
) -> Arrivals:
    """:func:`_thinning` in two compiled passes around the rate model; ``compiled`` is
    :meth:`Draws.compiled` for the table's rows."""
    gens, gi, n_gen = compiled
    src, target, piece, offset = _kernels.thinning_candidates(
        gens, gi, n_gen, rows, n0, genotype, mutation.rate_per_division, mutation.mutant_of, supply_piece, b, d,
        durations, float(bound.sum()),
    )  # fmt: skip
    if len(src) == 0:
        return Arrivals.empty()
    bt, dt = rates.rates(group[src], target, _lesions(rates, lesion, src))
    return Arrivals(*_kernels.thinning_sizes(
        gens, gi, src, target, piece, offset, durations, np.asarray(bt, dtype=float), np.asarray(dt, dtype=float)
    ))


def _node_tables(integrand: np.ndarray, geo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per node and profile: the cumulative share of Λ (normalised) and log(1 − geo) of the size."""
    cum = np.cumsum(integrand, axis=0)
    cum /= np.where(cum[-1:] > 0, cum[-1:], 1.0)
    with np.errstate(divide="ignore"):  # geo = 1 (a mutant that cannot divide): size 1
        log_q = np.log(1.0 - geo)
    return cum, log_q


def _quadrature_grid(durations: np.ndarray, n_sub: np.ndarray) -> dict[str, np.ndarray]:
    """Nodes and weights of the composite Gauss–Legendre rule, ``n_sub[j]`` sub-intervals in piece j."""
    pieces, x, w = [], [], []
    for j, tau in enumerate(durations):
        if tau <= 0:
            continue
        delta = tau / n_sub[j]
        starts = np.arange(n_sub[j]) * delta
        pieces.append(np.full(n_sub[j] * GL_NODES, j))
        x.append((starts[:, None] + delta * (_GL_X[None, :] + 1.0) / 2.0).ravel())
        w.append(np.tile(delta * _GL_W / 2.0, n_sub[j]))
    return {k: np.concatenate(v) for k, v in zip(("piece", "x", "w"), (pieces, x, w))}


def _clone_hashes(src_bits: np.ndarray, pair_bits: np.ndarray, ci: np.ndarray, ki: np.ndarray) -> np.ndarray:
    """A 64-bit hash per clone of its own numbers and of the set of its pairs' (k, numbers)."""
    return _kernels.clone_hashes(src_bits, pair_bits, ci, ki)


def _pair_profiles(
    src_rates: np.ndarray, pair_rates: np.ndarray, ci: np.ndarray, ki: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (clone ci, mutation ki) with bit-identical numbers share a profile.

    ``src_rates`` (2P, clones) holds each clone's b and d per piece, ``pair_rates`` (2P, pairs) the
    mutant's; a clone's pairs are contiguous and ordered by k. Returns (a pair showing each profile, the profile of each pair).

    Clones are deduplicated first, on a hash of their own rates and of the set of (k, mutant rates)
    of their pairs; a pair's profile is then (clone profile, k), so only the clones are sorted. Every
    pair is compared bit for bit with its profile's pair; a hash collision falls back to the exact
    (slow) row-unique over the pairs' numbers.
    """
    src_bits = np.ascontiguousarray(src_rates).view(np.uint64)
    pair_bits = np.ascontiguousarray(pair_rates).view(np.uint64)
    _, first_clone, clone_prof = np.unique(
        _clone_hashes(src_bits, pair_bits, ci, ki), return_index=True, return_inverse=True
    )
    # Profiles of pairs: (clone profile, k), numbered densely, each pair checked bit for bit.
    first, prof, same = _kernels.assign_profiles(ci, ki, first_clone, clone_prof.ravel(), src_bits, pair_bits)
    if same:
        return first, prof
    values = np.vstack([src_bits[:, ci], pair_bits, ki[None, :].astype(np.uint64)])
    _, first, prof = np.unique(values.T, axis=0, return_index=True, return_inverse=True)
    return first, prof.ravel()


def sub_intervals(durations: np.ndarray, bs, ds, bt, dt) -> np.ndarray:
    """Quadrature sub-intervals per piece and profile (P, n): short enough (rate × length ≤
    :data:`MAX_SPAN`) for every exponential and survival curve of the source and the mutant."""
    span = np.maximum(np.maximum(np.abs(bs - ds), np.abs(bt - dt)), bt)
    return np.maximum(1, np.ceil(np.asarray(durations)[:, None] * span / MAX_SPAN)).astype(np.int64)


def _grid_buckets(n_sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct columns of ``n_sub`` (P, n) and the bucket of each column, via lexsort on P rows."""
    order = np.lexsort(n_sub[::-1])
    s = n_sub[:, order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (s[:, 1:] != s[:, :-1]).any(axis=0)
    bucket = np.empty(len(order), dtype=np.int64)
    bucket[order] = np.cumsum(new) - 1
    return s[:, new].T, bucket


def _quadrature(
    rng: Draws,
    rows: np.ndarray,
    n0: np.ndarray,
    group: np.ndarray,
    genotype: np.ndarray,
    durations: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    m_start: np.ndarray,
    rates: RateModel,
    mutation: MutationModel,
    lesion: np.ndarray | None = None,
) -> Arrivals:
    """Arrivals for clones with a large supply; Λ computed once per distinct rate profile.

    Λ of a (clone, mutation) pair per initial cell depends only on the numbers (b, d of the source
    and of the mutant per piece, u_k); pairs with bit-identical numbers are integrated once. The
    same numbers give the same floating-point result whichever other pairs are in the batch, so a
    patient's draws do not depend on who else is in it.
    """
    # (clone, mutation) pairs, clone by clone. Here and below, take(axis=1) instead of [:, idx]:
    # fancy indexing along the second axis is several times slower.
    ci, ki, src, target = _kernels.pair_list(rows, genotype, mutation.mutant_of)
    if len(ci) == 0:
        return Arrivals.empty()
    bt, dt = rates.rates(group[src], target, _lesions(rates, lesion, src))
    src_rates = np.vstack([b.take(rows, axis=1), d.take(rows, axis=1)])
    first, prof = _pair_profiles(src_rates, np.vstack([bt, dt]), ci, ki)
    # The profiles' numbers (columns of the pairs that first showed each profile).
    prof_src, bt, dt = src[first], bt.take(first, axis=1), dt.take(first, axis=1)
    u = mutation.rate_per_division[ki[first]]
    bs, ds = b.take(prof_src, axis=1), d.take(prof_src, axis=1)
    # The grid follows from the profile's own rates, so a patient's numbers never depend on other
    # patients' rates; profiles with the same grid are computed together.
    grids, bucket = _grid_buckets(sub_intervals(durations, bs, ds, bt, dt))
    pair_bucket = bucket[prof] if len(grids) > 1 else None
    compiled = rng.compiled(group, len(group)) if rng.compiles else None
    parts = []
    for g, subs in enumerate(grids):
        cols = np.flatnonzero(bucket == g)
        numbers = (*(a.take(cols, axis=1) for a in (bs, ds, bt, dt)), m_start.take(prof_src[cols], axis=1), u[cols])
        if len(grids) == 1:  # cols are all the profiles, in order
            pair, p_src, p_tgt = prof, src, target
        else:
            local = np.full(len(first), -1)
            local[cols] = np.arange(len(cols))
            pi = np.flatnonzero(pair_bucket == g)
            pair, p_src, p_tgt = local[prof[pi]], src[pi], target[pi]
        if compiled is not None:
            tables = _quadrature_kernels.profile_tables(durations, np.ascontiguousarray(subs), *numbers, _GL_X, _GL_W)
            parts.append(_pairs_compiled(compiled, p_src, p_tgt, n0, pair, tables))
            continue
        integrand, geo = _pair_integrand(_quadrature_grid(durations, subs), durations, *numbers)
        lam = n0[p_src] * integrand.sum(axis=0)[pair]
        # Pairs expecting many arrivals draw their total size from its skew-corrected normal where
        # that is within the engine's tolerance, else node by node: Poisson counts per node and one
        # negative binomial for the summed geometric sizes (cost independent of the number of
        # lineages); the others draw the total count, then a node and a size per lineage.
        heavy = lam > AGGREGATE_ABOVE
        if heavy.any():
            h = np.flatnonzero(heavy)
            k = n0[p_src[h]] * arrival_cumulants(integrand, geo).take(pair[h], axis=1)
            normal = normal_limit.within_tolerance(k[1], k[2], k[3])
            if normal.any():
                ni = h[normal]
                z = rng.standard_normal(rng.owners_at(group, p_src[ni]))
                size = normal_limit.draw(z, k[0, normal], k[1, normal], k[2, normal])
                parts.append(Arrivals(p_src[ni], p_tgt[ni].astype(np.int32), size))
            rest = h[~normal]
            if rng.per_patient:
                rest = rest[lam[rest] > AGGREGATE_ABOVE_PER_PATIENT]
            if len(rest):
                parts.append(_by_node(rng, p_src[rest], n0[p_src[rest]], pair[rest], integrand, geo, p_tgt[rest], group))
            # Lineage by lineage: the light pairs and the heavy ones neither normal nor node by node.
            light = ~heavy
            light[h[~normal]] = True
            light[rest] = False
            light = np.flatnonzero(light)
            pair, p_src, p_tgt, lam = pair[light], p_src[light], p_tgt[light], lam[light]
        counts = rng.poisson(rng.owners_at(group, p_src), lam)
        hit = np.flatnonzero(counts)
        if len(hit):
            parts.append(_by_lineage(rng, p_src[hit], counts[hit], pair[hit], integrand, geo, p_tgt[hit], group))
    return Arrivals.concat(parts) if parts else Arrivals.empty()


def _pairs_compiled(compiled, p_src, p_tgt, n0, pair, tables) -> Arrivals:
    """The draws of :func:`_quadrature` (the same three ways, per pair in one compiled pass:
    :func:`gistsim.engine._kernels.pair_arrivals`); ``compiled`` is :meth:`Draws.compiled` for the
    table's rows, ``tables`` :func:`gistsim.engine._quadrature_kernels.profile_tables`'s."""
    gens, gi, n_gen = compiled
    cumulants, integrand, geo, cum, log_q, isum = tables
    return Arrivals(*_kernels.pair_arrivals(
        gens, gi, n_gen, p_src, p_tgt, n0, pair, isum, cumulants, integrand, geo, cum, log_q, AGGREGATE_ABOVE,
        normal_limit.MAX_KOLMOGOROV,
    ))  # fmt: skip


def _pair_integrand(grid, durations, bs, ds, bt, dt, m_start, rate):
    """Per node and profile: the quadrature term of Λ (per initial cell) and 1/(1 + H) at the node."""
    j, x = grid["piece"], grid["x"]
    src_intensity = bs[j] * m_start[j] * np.exp((bs[j] - ds[j]) * x[:, None])
    suf_m = np.ones((len(durations) + 1, bs.shape[1]))
    suf_h = np.zeros_like(suf_m)
    for k in range(len(durations) - 1, -1, -1):
        mk, hk = piece_mh(bt[k], dt[k], durations[k])
        suf_m[k] = mk * suf_m[k + 1]
        suf_h[k] = hk * suf_m[k + 1] + suf_h[k + 1]
    m1, h1 = piece_mh(bt[j], dt[j], (durations[j] - x)[:, None])
    m2, h2 = suf_m[j + 1], suf_h[j + 1]
    geo = 1.0 / (1.0 + h1 * m2 + h2)
    p = np.minimum(m1 * m2 * geo, 1.0)
    return grid["w"][:, None] * src_intensity * p * rate[None, :], geo


def arrival_cumulants(integrand: np.ndarray, geo: np.ndarray) -> np.ndarray:
    """Cumulants K₁…K₄ (rows) per initial source cell of the total size of a profile's surviving
    arrivals, a compound Poisson over the nodes: K_r = Σ_j λ_j E[G_j^r], G_j geometric on {1, 2, …}
    with success probability g_j; with q = 1 − g, E G = 1/g, E G² = (1 + q)/g²,
    E G³ = (1 + 4q + q²)/g³, E G⁴ = (1 + 11q + 11q² + q³)/g⁴ (Eulerian numbers)."""
    q = 1.0 - geo
    inv = 1.0 / geo
    m1 = integrand * inv
    m2 = m1 * inv * (1.0 + q)
    m3 = m1 * inv * inv * (1.0 + q * (4.0 + q))
    m4 = m1 * inv * inv * inv * (1.0 + q * (11.0 + q * (11.0 + q)))
    return np.stack([m1.sum(axis=0), m2.sum(axis=0), m3.sum(axis=0), m4.sum(axis=0)])


def _by_node(rng: Draws, src_rows, n0, pair, integrand, geo, target, group) -> Arrivals:
    """Poisson arrivals per quadrature node; each node's sizes summed as k + NegBinomial(k, g)."""
    lam = np.minimum(n0[:, None] * integrand.take(pair, axis=1).T, POISSON_MEAN_MAX)  # (pairs, nodes)
    owner = np.broadcast_to(group[src_rows][:, None], lam.shape)
    k = rng.poisson(owner, lam)
    size = k.astype(np.int64)
    hit = k > 0
    if hit.any():
        size[hit] += rng.negative_binomial(owner[hit], k[hit], geo.T[pair][hit])
    return Arrivals(src_rows, target.astype(np.int32), size.sum(axis=1))


def _by_lineage(rng: Draws, src_rows, reps, pair_of_row, integrand, geo, target, group) -> Arrivals:
    """A node per lineage ∝ its share of Λ, and a geometric size with that node's parameter."""
    cum, log_q = _node_tables(integrand, geo)
    pair = np.repeat(pair_of_row, reps)
    owner = np.repeat(group[src_rows], reps) if rng.per_patient else owners(rng, None, len(pair))
    u = rng.random(owner)
    size = geometric_by_inversion(rng, _kernels.lineage_log_q(cum, log_q, pair, u), owner)
    # Lineages of one (clone, mutation) are contiguous: sum them.
    starts = np.concatenate([[0], np.cumsum(reps)[:-1]])
    total = np.add.reduceat(size, starts).astype(np.int64)
    return Arrivals(src_rows, target.astype(np.int32), total)


def sample_arrivals(
    rng: Draws,
    n0: np.ndarray,
    group: np.ndarray,
    genotype: np.ndarray,
    durations: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    m_start: np.ndarray,
    supply_piece: np.ndarray,
    rates: RateModel,
    mutation: MutationModel,
    lesion: np.ndarray | None = None,
) -> Arrivals:
    """Mutant lineages founded during the step and alive at its end, for every clone.

    ``m_start[j]`` is the mean growth factor from the step's start to the start of piece j
    (shape (P+1, C)); ``supply_piece[j] = b_j · m_start[j] · φ(r_j, τ_j)`` is ∫ b·M over piece j.
    """
    # Σ_k u_k wherever the genotype can mutate at all (see _thinning).
    threshold = THINNING_BELOW if rng.compiles else THINNING_BELOW_PER_PATIENT
    bound, small, large = _kernels.arrival_bounds(
        n0, genotype, mutation.total_rate > 0, float(mutation.rate_per_division.sum()), supply_piece, threshold
    )
    parts = []
    if len(small):
        parts.append(
            _thinning(rng, small, n0, bound[small], group, genotype, durations, b, d, supply_piece, rates, mutation, lesion)
        )
    if len(large):
        parts.append(_quadrature(rng, large, n0, group, genotype, durations, b, d, m_start, rates, mutation, lesion))
    return Arrivals.concat(parts) if parts else Arrivals.empty()
