"""Compiled loops (numba) for the engine's draws from one ``numpy.random.Generator`` or from
per-patient generators (a numba typed list of them and each element's generator index).

The vectorised numpy paths in :mod:`.kendall` and :mod:`.arrivals` pay a pass over memory for
every array operation: a step's dozens of them cost more than its random numbers. Here each clone
(or candidate, or lineage) is handled in one pass that draws as it goes, from the same generator
through numba's port of numpy's samplers (same algorithms, same bit stream). The laws are those of
the numpy paths — the stream is consumed in another order, and three exact methods differ where
compiled costs differ (:func:`_binomial_bits`; light arrivals as the points of one Poisson process,
:func:`thinning_candidates` and :func:`pair_arrivals`; :data:`NODE_COST`) — and
tests compare the two per branch (χ², KS); the verification suite checks these loops, which the
engine uses with one generator, against theory and the slow reference. The deterministic ones
(:func:`compose`, :func:`genotype_rates`, the table merge, the quadrature profiles) serve
per-patient streams too.

Per-patient PCG64 streams (:class:`gistsim.streams.PatientStreams`, ``Draws.compiled``) use the
same loops: each element draws from its patient's generator (:func:`_pick`), and the Poisson
processes of light arrivals are one per patient (:func:`_start_points`), so a patient's numbers do
not depend on the others in a call. Other bit generators keep the vectorised numpy paths.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from gistsim.engine import normal_limit

_SAFETY = normal_limit.EDGEWORTH_SAFETY
_W3 = float(normal_limit._MAX_W3_PHI)
_W1 = float(normal_limit._MAX_W_PHI)
_MAX_CELLS = normal_limit.MAX_CELLS
#: Poisson means of mutant arrivals are capped here: numpy refuses means near 2⁶³, which a clone
#: saturated at MAX_CELLS (an extreme pace, long past the lethal volume) can ask for; its
#: mutants' total saturates at MAX_CELLS anyway.
POISSON_MEAN_MAX = 1e18

#: A quadrature node's Poisson and negative-binomial draws cost about as much as this many
#: lineages drawn one by one (a uniform, a node, an exponential): pairs expecting fewer arrivals
#: than NODE_COST × nodes go lineage by lineage even when heavy.
NODE_COST = 4.0

# IEEE arithmetic as in numpy (inf and nan, not ZeroDivisionError), and compiled once per machine.
_jit = njit(cache=True, error_model="numpy")
_inline = njit(cache=True, error_model="numpy", inline="always")


def _pick(gens, k):
    """The generator of index ``k``: ``gens`` itself when it is one generator (every element draws
    from it), else ``gens[k]`` from a typed list of per-patient generators."""


@overload(_pick, inline="always")
def _pick_impl(gens, k):
    if isinstance(gens, types.NumPyRandomGeneratorType):
        return lambda gens, k: gens
    return lambda gens, k: gens[k]


@_inline
def _start_points(gens, gi, items, n_generators):
    """Per generator, the distance to its first point of a unit-rate Poisson process: one
    exponential for each generator owning an element of ``items`` (indices into ``gi``), drawn in
    the order of their first element, so a patient's draws never depend on who else is in a call;
    with one generator, one exponential whatever ``items`` (as before per-patient streams)."""
    at = np.full(n_generators, -1.0)
    for i in range(len(items)):
        k = gi[items[i]]
        if at[k] < 0.0:
            at[k] = _pick(gens, k).standard_exponential()
    return at


@_inline
def _geometric(gen, log_q: float) -> int:
    """Geometric on {1, 2, …} with P(X > k) = q^k: 1 + floor(E / −log q), E ~ Exp(1) (numpy's
    ziggurat, cheaper than the logarithm of a uniform); P(X > k) = P(E ≥ −k log q) = q^k."""
    e = gen.standard_exponential()
    if log_q < 0.0:
        return int(math.floor(e / -log_q)) + 1  # noqa: RUF046 (an int64 in numba either way; explicit)
    return 1  # q = 0: one cell (the stream advances as for any lineage)


#: Clones of at most this many cells draw their surviving lineages by :func:`_binomial_bits`
#: (2.5–3× faster than numpy's binomial there, measured; numpy's inversion costs a step per
#: expected survivor).
BITS_MAX = 128

# 53 uniform bits: numpy's random() is (next_uint64 >> 11) · 2⁻⁵³.
_TWO_53 = float(2**53)


@_inline
def _popcount(x):
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (x * 0x0101010101010101) >> 56


@_inline
def _binomial_bits(gen, n: int, p: float) -> int:
    """Binomial(n, p), exactly, by comparing n uniforms with p one binary digit at a time, 53 cells
    per machine word: at each digit every undecided cell draws a fair bit; where p's digit is 1 a
    0 bit decides U < p, where it is 0 a 1 bit decides U > p. A cell whose digits equal all of p's
    (p has at most 53) has U ≥ p. About log₂(53) + 2 words per 53 cells whatever p."""
    k = 0
    left = n
    while left > 0:
        c = min(left, 53)
        left -= c
        undecided = (np.int64(1) << c) - 1
        less = np.int64(0)
        frac = p  # doubling and dropping the integer part are exact in binary floating point
        while undecided != 0 and frac > 0.0:
            w = np.int64(gen.random() * _TWO_53)
            frac *= 2.0
            if frac >= 1.0:
                frac -= 1.0
                less |= undecided & ~w
                undecided &= w
            else:
                undecided &= ~w
        k += _popcount(less)
    return k


@_inline
def _normal_draw(z: float, k1: float, k2: float, k3: float) -> int:
    """normal_limit.draw for one element."""
    sd = math.sqrt(k2)
    scale = 6.0 * k2 * sd  # 0 when K₂ underflows: then the law is K₁ to within rounding
    a = k3 / scale if scale > 0.0 else 0.0
    if a > 0.0:
        z = max(z, -0.5 / a)
    elif a < 0.0:
        z = min(z, -0.5 / a)
    x = np.rint(k1 + sd * (z + a * (z * z - 1.0)))
    return int(min(x, _MAX_CELLS)) if x > 0.0 else 0


@_inline
def _within(k2: float, k3: float, k4: float, eps: float) -> bool:
    """normal_limit.within_tolerance for one element, at tolerance ``eps``."""
    kurt = k4 * k2
    skew2 = k3 * k3
    alpha = kurt / 24.0 - skew2 / 18.0
    beta = -kurt / 8.0 + 5.0 * skew2 / 36.0 - k2 * k2 / 24.0
    return _SAFETY * (_W3 * abs(alpha) + _W1 * abs(beta)) <= eps * (k2 * k2 * k2)


@_jit
def sample_total(gens, gi, n, m, h, cell_max: int, lineage_max: int, eps: float):
    """kendall.sample_total for one generator or per-patient generators (clone i draws from
    ``gi[i]``'s): per clone, the skew-corrected normal where within
    tolerance ``eps``, else survivors (cell by cell up to ``cell_max`` cells, by
    :func:`_binomial_bits` up to :data:`BITS_MAX`, else numpy's binomial) and their
    total (lineage by lineage up to ``lineage_max`` survivors, else negative binomial)."""
    out = np.empty(len(n), dtype=np.int64)
    for i in range(len(n)):
        gen = _pick(gens, gi[i])
        ni, mi, hi = n[i], m[i], h[i]
        nf = float(ni)
        # kendall._cumulant_parts, times n.
        dl = 1.0 - mi
        k2 = nf * max(mi * (2.0 * hi + dl), 0.0)
        k3 = nf * mi * (6.0 * hi * hi + 6.0 * hi * dl + dl * (2.0 * dl - 1.0))
        k4 = k2 * (12.0 * hi * (hi + dl) + 1.0 - 6.0 * mi * dl)
        if _within(k2, k3, k4, eps):
            out[i] = _normal_draw(gen.standard_normal(), nf * mi, k2, k3)
            continue
        p = min(mi / (1.0 + hi), 1.0)
        if ni <= cell_max:
            k = 0
            for _ in range(ni):
                k += gen.random() < p
        else:
            k = _binomial_bits(gen, ni, p) if ni <= BITS_MAX else gen.binomial(ni, p)
        q = 1.0 / (1.0 + hi)
        if k <= lineage_max:
            log_q = math.log1p(-q) if q < 1.0 else -math.inf
            total = 0
            for _ in range(k):
                total += _geometric(gen, log_q)
            out[i] = total
        else:
            out[i] = k + gen.negative_binomial(float(k), q)
    return out


@_inline
def _piece_mh(b: float, d: float, t: float):
    """kendall.piece_mh for one element, with one exponential function: m = 1 + expm1(r·t). Where
    m is below about 1e-16 it is then exact to 1.1e-16 absolute rather than relative, which a
    survival probability compared with a uniform (a multiple of 2⁻⁵³) cannot tell apart."""
    r = b - d
    rt = r * t
    if abs(rt) < 1e-8:
        return 1.0 + rt, b * t * (1.0 + 0.5 * rt)
    e = math.expm1(rt)
    return 1.0 + e, b * (e / r)


@_jit
def _grow(a, size):
    """``a`` copied into an array of ``size`` (at least its length) elements."""
    out = np.empty(size, dtype=a.dtype)
    out[: len(a)] = a
    return out


@_inline
def _cumulative_index(cum, row, u) -> int:
    """The first k with u < cum[row, k] (k < the row's length), without branches."""
    k = 0
    for s in range(cum.shape[1] - 1):
        k += cum[row, s] <= u
    return k


@_jit
def _candidates_into(gens, gi, at, state, rows, n0, genotype, possible, cum_k, targets, supply_piece, b, d, durations, out):
    """The loop of :func:`thinning_candidates` from ``state`` = (row index, candidates written),
    with ``at[k]`` generator k's distance to its next point, until the rows or the output run out;
    returns the new state."""
    i, w = int(state[0]), int(state[1])
    src, target, piece, offset = out
    n_pieces = len(durations)
    while i < len(rows):
        row = rows[i]
        gk = gi[row]
        gen = _pick(gens, gk)
        g = genotype[row]
        supply = 0.0
        for s in range(n_pieces):
            supply += supply_piece[s, row]
        length = n0[row] * possible[g] * supply
        while at[gk] < length:
            if w == len(src):
                return i, w
            u = at[gk] / length
            k = _cumulative_index(cum_k, g, u)
            # The position within mutation k's share, then within piece j's share of it.
            lo = cum_k[g, k - 1] if k > 0 else 0.0
            v = min((u - lo) / (cum_k[g, k] - lo), 1.0)
            j = 0
            if n_pieces > 1:
                acc = 0.0
                x = v * supply
                while j < n_pieces - 1 and acc + supply_piece[j, row] <= x:
                    acc += supply_piece[j, row]
                    j += 1
                part = supply_piece[j, row]
                v = min((x - acc) / part, 1.0) if part > 0.0 else 0.0  # (only by rounding)
            r = b[j, row] - d[j, row]
            tau = durations[j]
            off = v * tau if abs(r * tau) < 1e-8 else math.log1p(v * math.expm1(r * tau)) / r
            src[w], target[w], piece[w] = row, targets[g, k], j
            offset[w] = min(max(off, 0.0), tau)
            w += 1
            at[gk] += gen.standard_exponential()
        at[gk] -= length
        i += 1
    return i, w


@_jit
def thinning_candidates(gens, gi, n_generators, rows, n0, genotype, rate, mutant_of, supply_piece, b, d, durations, expected):
    """Candidates of arrivals._thinning: for each clone row, mutation k its genotype can acquire
    and piece j, Poisson(n0 · u_k · ∫ b·M over j) candidates, each at an offset within the piece
    ∝ exp(r x). They are the points of one unit-rate Poisson process on the rows' means laid end to
    end (exponential gaps; by memorylessness only the overshoot past a row is carried on): one
    exponential per candidate, where a Poisson count per clone, a uniform for the mutation
    (discarded when the clone cannot acquire it), one for the piece and one for the offset cost
    more. A point's position within its row, uniform given the counts, picks the mutation ∝ u_k
    among the possible ones, then (rescaled) the piece and the offset. With per-patient generators
    (row r draws from ``gi[r]``'s, ``n_generators`` of them) each patient has its own process over
    its own rows. ``expected`` sizes the output (it grows if passed). Returns (source row, target
    genotype, piece, offset)."""
    n_genotypes, n_mut = mutant_of.shape
    # Per genotype: Σ u_k over the mutations it can acquire, their cumulative shares, their targets.
    possible = np.zeros(n_genotypes)
    cum_k = np.ones((n_genotypes, n_mut))
    targets = np.full((n_genotypes, n_mut), -1, dtype=np.int64)
    for g in range(n_genotypes):
        c = 0
        for k in range(n_mut):
            if mutant_of[g, k] >= 0:
                possible[g] += rate[k]
                cum_k[g, c] = possible[g]
                targets[g, c] = mutant_of[g, k]
                c += 1
        for k in range(n_mut):
            cum_k[g, k] = cum_k[g, k] / possible[g] if k < c - 1 else 1.0
    size = max(int(expected + 4.0 * math.sqrt(expected)) + 16, 16)
    out = (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size))
    at = _start_points(gens, gi, rows, n_generators)
    state = (0, 0)
    while True:
        state = _candidates_into(gens, gi, at, state, rows, n0, genotype, possible, cum_k, targets, supply_piece, b, d, durations, out)
        if state[0] == len(rows):
            break
        size *= 2
        out = (_grow(out[0], size), _grow(out[1], size), _grow(out[2], size), _grow(out[3], size))
    w = state[1]
    return out[0][:w], out[1][:w], out[2][:w], out[3][:w]


@_jit
def thinning_sizes(gens, gi, src, target, piece, offset, durations, bt, dt):
    """For candidates founded at (piece, offset) with their own rates bt, dt (pieces × candidates):
    kept with P(alive at the step's end), then a geometric size (drawn from ``gi[src]``'s
    generator). Returns the kept candidates' (source row, target genotype, size)."""
    n_pieces = len(durations)
    o_src = np.empty(len(piece), dtype=np.int64)
    o_target = np.empty(len(piece), dtype=np.int32)
    o_size = np.empty(len(piece), dtype=np.int64)
    w = 0
    for a in range(len(piece)):
        gen = _pick(gens, gi[src[a]])
        j = piece[a]
        m, h = _piece_mh(bt[j, a], dt[j, a], durations[j] - offset[a])
        for s in range(j + 1, n_pieces):
            mk, hk = _piece_mh(bt[s, a], dt[s, a], durations[s])
            h = h * mk + hk
            m = m * mk
        q = 1.0 / (1.0 + h)
        if gen.random() < min(m * q, 1.0):
            o_src[w], o_target[w] = src[a], target[a]
            o_size[w] = _geometric(gen, math.log1p(-q) if q < 1.0 else -math.inf)
            w += 1
    return o_src[:w], o_target[:w], o_size[:w]


@_inline
def _n_runs(values) -> int:
    """Number of runs of equal neighbours in ``values``."""
    n = 0
    for i in range(len(values)):
        if i == 0 or values[i] != values[i - 1]:
            n += 1
    return n


@_jit
def poisson_search(u, lam, p0, cap):
    """streams.poisson_by_inversion's search: per element the smallest k with u ≤ Σ_{j≤k} P(j),
    the terms P(j) = P(j−1)·λ/j from P(0) = ``p0`` (stopped at ``cap``)."""
    out = np.zeros(len(u), dtype=np.int64)
    for i in range(len(u)):
        p = p0[i]
        if not u[i] > p:
            continue
        f = p
        k = 0
        while True:
            k += 1
            p = p * lam[i] / k
            f = f + p
            if not u[i] > f or k >= cap:
                out[i] = k
                break
    return out


@_jit
def lineage_log_q(cum, log_q, pair, u):
    """arrivals._by_lineage's node per lineage, #{j < last node : cum[j, pair] ≤ u}, as that node's
    log(1 − g) for its size: one pass instead of one numpy pass per node (the numbers are the same)."""
    n_nodes = cum.shape[0]
    lq = np.empty(len(pair))
    for i in range(len(pair)):
        c = pair[i]
        k = 0
        for j in range(n_nodes - 1):
            if cum[j, c] <= u[i]:
                k += 1
        lq[i] = log_q[k, c]
    return lq


@_jit
def owner_runs(index, owner, n_generators):
    """streams.Draws._runs: the elements' generators ``index[owner]``; whether they are already
    grouped (non-decreasing), else the stable order that groups them (a counting sort over the
    ``n_generators``); and each generator's run (lo, hi, generator) in that order."""
    n = len(owner)
    gen_of = np.empty(n, dtype=np.int64)
    for i in range(n):
        o = owner[i]
        if o < 0 or o >= len(index) or index[o] < 0 or index[o] >= n_generators:
            raise IndexError("owner outside the patient streams")
        gen_of[i] = index[o]
    grouped = True
    for i in range(1, n):
        if gen_of[i] < gen_of[i - 1]:
            grouped = False
            break
    if grouped:
        order = np.empty(0, dtype=np.int64)
        ordered = gen_of
    else:
        start = np.zeros(n_generators + 1, dtype=np.int64)
        for i in range(n):
            start[gen_of[i] + 1] += 1
        for g in range(n_generators):
            start[g + 1] += start[g]
        order = np.empty(n, dtype=np.int64)
        ordered = np.empty(n, dtype=np.int64)
        for i in range(n):
            g = gen_of[i]
            order[start[g]] = i
            ordered[start[g]] = g
            start[g] += 1
    n_runs = _n_runs(ordered)
    los = np.empty(n_runs, dtype=np.int64)
    his = np.empty(n_runs, dtype=np.int64)
    first = np.empty(n_runs, dtype=np.int64)
    w = -1
    for i in range(n):
        if i == 0 or ordered[i] != ordered[i - 1]:
            w += 1
            los[w], first[w] = i, ordered[i]
            if w > 0:
                his[w - 1] = i
    if n_runs:
        his[n_runs - 1] = n
    return grouped, order, los, his, first


@_jit
def genotype_rates(birth, death, genotype):
    """Birth and death tables (pieces × genotypes) gathered at each clone's genotype, both in one
    pass (numpy's take, twice, reads the genotypes twice and converts int32 indices first)."""
    n_pieces, n_genotypes = birth.shape
    b = np.empty((n_pieces, len(genotype)))
    d = np.empty((n_pieces, len(genotype)))
    for i in range(len(genotype)):
        g = genotype[i]
        if g < 0 or g >= n_genotypes:
            raise IndexError("genotype code out of range of the rate table")
        for k in range(n_pieces):
            b[k, i] = birth[k, g]
            d[k, i] = death[k, g]
    return b, d


_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
_HASH_SHIFT = np.uint64(29)


@_inline
def _hash_value(h, x):
    """A 64-bit hash continued from ``h`` with the value ``x`` (uint64)."""
    h ^= x
    h *= _HASH_MUL
    return h ^ (h >> _HASH_SHIFT)


#: Slots of compose's cache of per-piece growth factors (a power of two).
_COMPOSE_SLOTS = 1024


@_jit
def compose(durations, b, d):
    """Per clone over the step's pieces: the mean growth factor to the start of each piece
    (``m_start``, (P+1, C)), the mutant supply ∫ b·M over each piece (P, C) and H (step.advance's
    composition), and whether every rate is finite and non-negative (the caller names the bad one).

    Clones share rates (a genotype's in every lesion of a patient), so each piece's exp(r·τ) and
    expm1(r·τ)/r are kept in a direct-mapped cache keyed by the rates' bits: a clone whose rates
    equal, bit for bit, those of the clone last stored in its slot reuses them (the same numbers
    as computing them again), and two exponential functions per piece become a hash and a
    comparison."""
    n_pieces, n = b.shape
    m_start = np.empty((n_pieces + 1, n))
    supply = np.empty((n_pieces, n))
    h = np.empty(n)
    valid = True
    b_bits, d_bits = b.view(np.uint64), d.view(np.uint64)
    tag = np.empty((_COMPOSE_SLOTS, 2 * n_pieces), dtype=np.uint64)
    used = np.zeros(_COMPOSE_SLOTS, dtype=np.bool_)
    grow = np.empty((_COMPOSE_SLOTS, n_pieces))
    phase = np.empty((_COMPOSE_SLOTS, n_pieces))
    for i in range(n):
        key = np.uint64(n_pieces)
        for k in range(n_pieces):
            key = _hash_value(key, b_bits[k, i])
            key = _hash_value(key, d_bits[k, i])
        slot = key & np.uint64(_COMPOSE_SLOTS - 1)
        hit = used[slot]
        for k in range(n_pieces):
            hit &= tag[slot, 2 * k] == b_bits[k, i] and tag[slot, 2 * k + 1] == d_bits[k, i]
        if not hit:
            for k in range(n_pieces):
                bk, dk = b[k, i], d[k, i]
                valid &= bk >= 0.0 and bk < math.inf and dk >= 0.0 and dk < math.inf
                r = bk - dk
                t = durations[k]
                rt = r * t
                grow[slot, k] = math.exp(rt)
                phase[slot, k] = t * (1.0 + 0.5 * rt) if abs(rt) < 1e-8 else math.expm1(rt) / r
                tag[slot, 2 * k], tag[slot, 2 * k + 1] = b_bits[k, i], d_bits[k, i]
            used[slot] = True
        mi, hi = 1.0, 0.0
        m_start[0, i] = 1.0
        for k in range(n_pieces):
            bk, gk, ph = b[k, i], grow[slot, k], phase[slot, k]
            supply[k, i] = bk * mi * ph
            hi = hi * gk + bk * ph
            mi = mi * gk
            m_start[k + 1, i] = mi
        h[i] = hi
    return m_start, supply, h, valid


@_jit
def arrival_bounds(n0, genotype, can_mutate, sum_u, supply_piece, thinning_below):
    """Per clone, n0 · Σ_k u_k · ∫ b·M (the expected candidate arrivals at every mutation's rate;
    0 where the genotype cannot mutate), and the rows below ``thinning_below`` (but above 0) and
    at or above it (arrivals.sample_arrivals' split)."""
    n = len(n0)
    bound = np.empty(n)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = nl = 0
    for i in range(n):
        total = 0.0
        for k in range(supply_piece.shape[0]):
            total += supply_piece[k, i]
        x = n0[i] * (sum_u if can_mutate[genotype[i]] else 0.0) * total
        bound[i] = x
        # Written to both, kept by one (or neither): no unpredictable branch.
        large[nl] = i
        small[ns] = i
        nl += x >= thinning_below
        ns += (x > 0.0) & (x < thinning_below)
    return bound, small[:ns], large[:nl]


@_jit
def pair_list(rows, genotype, mutant_of):
    """arrivals._quadrature's (clone, mutation) pairs, clone by clone: the clone's index in
    ``rows``, the mutation k, the source row and the mutant genotype, where the clone's genotype
    can acquire k."""
    n_mut = mutant_of.shape[1]
    n = 0
    for i in range(len(rows)):
        for k in range(n_mut):
            n += mutant_of[genotype[rows[i]], k] >= 0
    ci = np.empty(n, dtype=np.int64)
    ki = np.empty(n, dtype=np.int64)
    src = np.empty(n, dtype=np.int64)
    target = np.empty(n, dtype=np.int64)
    w = 0
    for i in range(len(rows)):
        row = rows[i]
        for k in range(n_mut):
            t = mutant_of[genotype[row], k]
            if t >= 0:
                ci[w], ki[w], src[w], target[w] = i, k, row, t
                w += 1
    return ci, ki, src, target


@_jit
def pair_arrivals(gens, gi, n_generators, src, target, n0, pair, isum, cumulants, integrand, geo, cum, log_q,
                  aggregate_above, eps):  # fmt: skip
    """arrivals._quadrature's draws for one generator or per-patient ones (a pair draws from
    ``gi[src]``'s, each patient with its own process of light lineages), per (clone, mutation) pair: source row
    ``src`` (``n0[src]`` cells), mutant genotype ``target``, profile ``pair``; Λ = n0 · Σ_nodes
    integrand. Pairs expecting more than
    ``aggregate_above`` arrivals draw their total size from the skew-corrected normal where within
    tolerance ``eps`` (cumulants n0 · K_r per profile), else node by node (Poisson lineages per node, their
    sizes k + NegBinomial(k, geo)); the others draw Poisson(Λ) lineages, each at a node ∝ its share
    of Λ (``cum``, normalised) with a geometric size (``log_q`` = log(1 − geo)). Those lineages are
    the points of one unit-rate Poisson process on the pairs' Λ laid end to end (see
    :func:`thinning_candidates`): a point's position within its pair's segment is the uniform that
    picks its node (a Poisson draw per pair and a uniform per lineage saved; per node segments
    would cost a mispredicted branch per node). Per-profile tables are (profiles, nodes). Returns the
    pairs with arrivals: (source row, target genotype, total cells)."""
    n_nodes = integrand.shape[1]
    o_src = np.empty(len(pair), dtype=np.int64)
    o_target = np.empty(len(pair), dtype=np.int32)
    o_total = np.empty(len(pair), dtype=np.int64)
    w = 0
    at = _start_points(gens, gi, src, n_generators)  # the light pairs' points: distance to the next one
    for i in range(len(pair)):
        gk = gi[src[i]]
        gen = _pick(gens, gk)
        j = pair[i]
        n = float(n0[src[i]])
        lam = n * isum[j]
        total = 0
        if lam > aggregate_above and _within(n * cumulants[j, 1], n * cumulants[j, 2], n * cumulants[j, 3], eps):
            total = _normal_draw(gen.standard_normal(), n * cumulants[j, 0], n * cumulants[j, 1], n * cumulants[j, 2])
        elif lam > NODE_COST * n_nodes:
            for s in range(n_nodes):
                k = gen.poisson(min(n * integrand[j, s], POISSON_MEAN_MAX))
                if k > 0:
                    total += k + gen.negative_binomial(float(k), geo[j, s])
        else:
            while at[gk] < lam:
                total += _geometric(gen, log_q[j, _cumulative_index(cum, j, at[gk] / lam)])
                at[gk] += gen.standard_exponential()
            at[gk] -= lam
        o_src[w], o_target[w], o_total[w] = src[i], target[i], total
        w += total > 0
    return o_src[:w], o_target[:w], o_total[:w]


@_inline
def _hash_column(bits, col, h):
    """A 64-bit hash of column ``col`` of ``bits`` (uint64, (rows, n)), continuing from ``h``."""
    for r in range(bits.shape[0]):
        h = _hash_value(h, bits[r, col])
    return h


@_jit
def clone_hashes(src_bits, pair_bits, ci, ki):
    """arrivals._pair_profiles' clone hashes: each pair's numbers hashed (from its k), summed per
    clone (mod 2⁶⁴, so the order of a clone's pairs does not matter), then the clone's own numbers
    hashed on top. ``*_bits``: the float64 rates viewed as uint64, (2P, columns)."""
    own = np.zeros(src_bits.shape[1], dtype=np.uint64)
    for p in range(len(ci)):
        own[ci[p]] += _hash_column(pair_bits, p, np.uint64(ki[p]))
    out = np.empty(src_bits.shape[1], dtype=np.uint64)
    for c in range(src_bits.shape[1]):
        out[c] = _hash_column(src_bits, c, own[c])
    return out


@_jit
def assign_profiles(ci, ki, first_clone, clone_prof, src_bits, pair_bits):
    """Profiles of pairs as (clone profile, k), numbered in that order, with a pair showing each;
    and whether every pair's numbers equal its profile pair's bit for bit (False: a hash collision,
    for which the caller falls back to an exact comparison).

    A clone's pairs are contiguous (``ci`` non-decreasing) and ordered by k, so a clone's j-th
    pair is matched with the j-th pair of its profile's first clone: one sequential pass, and a
    clone whose mutations differ from that clone's is a collision like any other."""
    n_clones = src_bits.shape[1]
    n_pairs = len(ci)
    pstart = np.zeros(n_clones + 1, dtype=np.int64)
    for p in range(n_pairs):
        pstart[ci[p] + 1] += 1
    for c in range(n_clones):
        pstart[c + 1] += pstart[c]
    n_prof = len(first_clone)
    base = np.empty(n_prof + 1, dtype=np.int64)
    base[0] = 0
    for cp in range(n_prof):
        rep = first_clone[cp]
        base[cp + 1] = base[cp] + pstart[rep + 1] - pstart[rep]
    first = np.empty(base[n_prof], dtype=np.int64)
    for cp in range(n_prof):
        rep = first_clone[cp]
        for j in range(pstart[rep + 1] - pstart[rep]):
            first[base[cp] + j] = pstart[rep] + j
    prof = np.empty(n_pairs, dtype=np.int64)
    same = True
    for c in range(n_clones):
        cp = clone_prof[c]
        rep = first_clone[cp]
        count = pstart[c + 1] - pstart[c]
        if count != pstart[rep + 1] - pstart[rep]:
            same = False
            count = min(count, pstart[rep + 1] - pstart[rep])
        for r in range(src_bits.shape[0]):
            same &= src_bits[r, rep] == src_bits[r, c]
        for j in range(count):
            p = pstart[c] + j
            q = pstart[rep] + j
            prof[p] = base[cp] + j
            same &= ki[p] == ki[q]
            for r in range(pair_bits.shape[0]):
                same &= pair_bits[r, q] == pair_bits[r, p]
    return first, prof, same
