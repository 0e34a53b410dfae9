"""A lesion's history before treatment: from one founder cell to its size at diagnosis.

Each lesion grows from a single cell under untreated rates, with secondary mutations arising on
the way (Luria–Delbrück with death), so lesions of one patient carry different resistant
subclones. The history is run with the ordinary engine step, so exactness and mutation follow the
same rules as during treatment:

* Lesions advance in steps that multiply their expected size by at most
  :data:`GROWTH_PER_STEP`; the last steps aim exactly at the target size, and a lesion is done once
  it holds at least ``(1 - SIZE_TOLERANCE)`` of its target.
* A founder lineage that dies out is replaced by a new founder (the lesion we observe is one whose
  founder lineage survived), and its clock restarts.
* Lesions that need different times share one engine step by time scaling: a homogeneous
  process with rates (c·b, c·d) over t has the law of rates (b, d) over c·t, mutation included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import MutationModel, RateModel
from gistsim.engine.step import advance
from gistsim.errors import check_nonnegative
from gistsim.streams import PatientStreams, as_draws

#: Largest expected growth factor of one history step.
GROWTH_PER_STEP = 4.0
#: A lesion is done when it holds at least (1 - SIZE_TOLERANCE) × its target size.
SIZE_TOLERANCE = 0.01
#: Guard against a history that cannot finish (e.g. a vanishing growth rate).
MAX_ROUNDS = 100_000


@dataclass
class _LesionRates:
    """Rates of the lesion's group, scaled per lesion; groups here are lesion rows."""

    base: RateModel
    group_of_row: np.ndarray
    scale: np.ndarray

    def rates(
        self, group: np.ndarray, genotype: np.ndarray, lesion: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        b, d = self.base.rates(self.group_of_row[group], genotype)
        c = self.scale[group]
        return b * c, d * c


@dataclass
class LesionHistory:
    """Clones of every lesion at diagnosis, and how long each lesion took to grow."""

    clones: CloneTable
    """Clones with the caller's lesion ids and groups."""
    age_days: np.ndarray
    """Time from the surviving founder cell to diagnosis, per lesion (in the order given)."""
    founders_tried: np.ndarray
    """Founder cells used per lesion (1 + the number of founder lineages that died out)."""


def sample_history(
    *,
    lesion: np.ndarray,
    founder_genotype: np.ndarray,
    size_cells: np.ndarray,
    rates: RateModel,
    mutation: MutationModel,
    n_genotypes: int,
    group: np.ndarray | None = None,
    rng: np.random.Generator | PatientStreams,
) -> LesionHistory:
    """Grow each lesion from one founder cell to ``size_cells``, with its resistant subclones.

    ``rates`` must give the untreated rates (a single piece); the founder genotype must grow
    (birth > death), otherwise the lesion could never reach its size.
    """
    lesion = np.asarray(lesion, dtype=np.int64)
    founder_genotype = np.asarray(founder_genotype, dtype=np.int64)
    target = check_nonnegative("size_cells", size_cells, strictly_positive=True) * np.ones(len(lesion))
    group = lesion.copy() if group is None else np.asarray(group, dtype=np.int64)
    if not (len(lesion) == len(founder_genotype) == len(target) == len(group)):
        raise ValueError("lesion, founder_genotype, size_cells and group must have one entry per lesion")
    if len(np.unique(lesion)) != len(lesion):
        raise ValueError("lesion ids must be unique")
    n = len(lesion)
    rows = np.arange(n)
    b, d = rates.rates(group, founder_genotype)
    if b.shape[0] != 1:
        raise ValueError(f"history rates must have one piece (untreated); got {b.shape[0]}")
    r = b[0] - d[0]
    if (r <= 0).any():
        i = int(np.flatnonzero(r <= 0)[0])
        raise ValueError(
            f"founder genotype {int(founder_genotype[i])} of lesion {int(lesion[i])} has net growth rate "
            f"{r[i]:.4g}/day; a lesion can only grow to its size at diagnosis if birth > death"
        )
    table = CloneTable.from_arrays(
        lesion=rows, genotype=founder_genotype, count=np.ones(n, np.int64), n_genotypes=n_genotypes
    )
    age = np.zeros(n)
    tried = np.ones(n, dtype=np.int64)
    lesion_rates = _LesionRates(rates, group, np.zeros(n))
    # The table's groups are lesion rows here; with per-patient streams, a row draws from the
    # stream of the caller's group (the patient).
    draws = as_draws(rng).remap(group)
    for _ in range(MAX_ROUNDS):
        total = np.zeros(n)
        ids, sums = table.lesion_totals()
        total[ids] = sums
        dead = total == 0
        if dead.any():
            table.add_cells(rows[dead], rows[dead], founder_genotype[dead], np.ones(int(dead.sum()), np.int64))
            age[dead] = 0.0
            tried[dead] += 1
            total[dead] = 1
        active = total < (1.0 - SIZE_TOLERANCE) * target
        if not active.any():
            break
        tau = np.where(active, np.log(np.minimum(target / np.maximum(total, 1), GROWTH_PER_STEP)) / r, 0.0)
        step = tau.max()
        lesion_rates.scale = tau / step
        advance(table, [step], lesion_rates, mutation, rng=draws)
        age += tau
    else:
        raise RuntimeError(f"lesion histories did not reach their sizes within {MAX_ROUNDS} rounds")
    clones = CloneTable.from_arrays(
        lesion=lesion[table.lesion],
        group=group[table.lesion],
        genotype=table.genotype,
        count=table.count,
        n_genotypes=n_genotypes,
    )
    return LesionHistory(clones, age, tried)
