"""New lesions seeded during one step that are alive at its end (DESIGN §3, metastatic seeding).

Each cell of a clone leaves to found a new lesion at rate σ per day, so a clone of n cells seeds
at rate σ·N(s), with N(s) the expected path n·M(s) between the step's endpoints (as for mutant
arrivals, :mod:`.arrivals`). A seed founded at s is one cell of its founder's genotype under the
founder's rates (a seeded lesion keeps its founder lesion's pace), so its lineage is alive at the
step's end with probability p(s) and then geometric with mean 1 + H(s, T) (Kendall). Only those
lineages are drawn: candidates at rate σ·N(s), each kept with probability p(s), which is exact
thinning. Seeds that die within the step they were founded in leave no trace, and never become
one-cell clones that the next step advances only to see them die.

Approximations, as for mutants: the founder does not lose the emigrating cell (O(σ)), and a seed
neither mutates nor seeds again before the step's end (O(u), O(σ)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gistsim.engine import _kernels
from gistsim.engine.arrivals import _survival_from, founding_times
from gistsim.engine.clones import CloneTable
from gistsim.engine.kendall import geometric_by_inversion, phi
from gistsim.streams import Draws


@dataclass
class Seeds:
    """Seeded lineages alive at the step's end, one per seed, in the order of their founder's row
    in the clone table at the step's start (so by founder lesion, then genotype)."""

    lesion: np.ndarray
    """The founder's lesion."""
    group: np.ndarray
    """The founder's group (patient)."""
    genotype: np.ndarray
    """The founder's genotype, which the seed inherits."""
    size: np.ndarray
    """Cells of the seed's lineage at the step's end (≥ 1)."""

    @classmethod
    def empty(cls) -> Seeds:
        e = np.empty(0, dtype=np.int64)
        return cls(e, e.copy(), e.astype(np.int32), e.copy())


def cell_days(durations: np.ndarray, b: np.ndarray, d: np.ndarray, m_start: np.ndarray) -> np.ndarray:
    """∫ M over each piece per initial cell (P, C): ``m_start[j] · expm1(r_j τ_j) / r_j``."""
    return m_start[:-1] * phi(b - d, durations[:, None])


def sample_seeds(
    rng: Draws,
    rate_per_cell_per_day: float | np.ndarray,
    table: CloneTable,
    durations: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    m_start: np.ndarray,
) -> Seeds:
    """Seeds founded by every clone of ``table`` (as at the step's start) during the step and
    alive at its end.

    ``rate_per_cell_per_day`` is σ, one number or one per clone (0 where a clone does not seed);
    ``b``, ``d`` (P, C) are the clones' rates per piece and ``m_start`` (P+1, C) their mean growth
    factor to the start of each piece (:func:`gistsim.engine._kernels.compose`).
    """
    n0, group = table.count, table.group
    rate = np.broadcast_to(np.asarray(rate_per_cell_per_day, dtype=float), n0.shape)
    # Only clones that seed draw (a clone's draws never depend on whether others seed).
    rows = np.flatnonzero(rate > 0)
    if len(rows) == 0:
        return Seeds.empty()
    if rng.compiles:
        return _seeds_compiled(rng, rate, rows, table, durations, b, d, m_start)
    rate = rate[rows]
    b, d, m_start = b.take(rows, axis=1), d.take(rows, axis=1), m_start.take(rows, axis=1)
    per_piece = cell_days(durations, b, d, m_start)
    n_cand = rng.poisson(group[rows], rate * n0[rows] * per_piece.sum(axis=0))
    if not n_cand.any():
        return Seeds.empty()
    local = np.repeat(np.arange(len(rows)), n_cand)  # columns of b, d and per_piece
    src = rows[local]
    owner = rng.owners_at(group, src)
    # Three uniforms per candidate (piece, offset, kept), one call: a patient's stream advances the
    # same whatever the number of pieces.
    u_piece, u_offset, u_keep = rng.random(np.concatenate([owner, owner, owner])).reshape(3, -1)
    piece, offset = founding_times(u_piece, u_offset, local, durations, per_piece, b, d)
    p, g = _survival_from(piece, offset, durations, b.take(local, axis=1), d.take(local, axis=1))
    keep = np.flatnonzero(u_keep < p)
    if len(keep) == 0:
        return Seeds.empty()
    src = src[keep]
    with np.errstate(divide="ignore"):  # g = 1 (a seed that cannot divide): size 1
        log_q = np.log1p(-g[keep])
    size = geometric_by_inversion(rng, log_q, rng.owners_at(group, src))
    return Seeds(table.lesion[src], group[src], table.genotype[src], size)


def _seeds_compiled(rng: Draws, rate, rows, table: CloneTable, durations, b, d, m_start) -> Seeds:
    """:func:`sample_seeds` through the compiled thinning of mutant arrivals: seeding is a
    "mutation" to the clone's own genotype at σ per cell-day (σ·∫M over a piece in place of
    u·∫b·M), the seed's lineage under the source's own rates. Rates may differ between clones (σ is
    factored out of the supply, per clone)."""
    sigma = float(rate[rows[0]])
    if not (rate[rows] == sigma).all():  # one σ for the kernel's shared rate table; scale the supply
        supply = cell_days(durations, b, d, m_start) * (rate / sigma)[None, :]
    else:
        supply = cell_days(durations, b, d, m_start)
    genotype = table.genotype
    n_genotypes = int(genotype.max()) + 1
    itself = np.arange(n_genotypes, dtype=np.int64)[:, None]
    gens, gi, n_gen = rng.compiled(table.group, len(table.group))
    bound = sigma * table.count[rows] * supply.take(rows, axis=1).sum(axis=0)
    src, _, piece, offset = _kernels.thinning_candidates(
        gens, gi, n_gen, rows, table.count, genotype, np.array([sigma]), itself, np.ascontiguousarray(supply), b, d,
        durations, float(bound.sum()),
    )  # fmt: skip
    if len(src) == 0:
        return Seeds.empty()
    src, _, size = _kernels.thinning_sizes(
        gens, gi, src, genotype[src].astype(np.int64), piece, offset, durations,
        np.ascontiguousarray(b.take(src, axis=1)), np.ascontiguousarray(d.take(src, axis=1)),
    )  # fmt: skip
    return Seeds(table.lesion[src], table.group[src], genotype[src], size)
