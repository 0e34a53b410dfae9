"""Draw many independent replicates of one small system from the engine and from the reference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gistsim.engine import reference
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.engine.step import advance


def two_type_mutation(u: float) -> MutationModel:
    """Genotype 0 = sensitive S, 1 = resistant R; S → S + R at rate u per division."""
    return MutationModel(np.array([[1], [-1]]), np.array([float(u)]))


def replicate_table(n_rep: int, counts0: Sequence[int], n_genotypes: int) -> CloneTable:
    """``n_rep`` lesions (ids 0..n_rep-1), each holding ``counts0[g]`` cells of genotype g."""
    counts0 = np.asarray(counts0, dtype=np.int64)
    geno = np.flatnonzero(counts0 > 0)
    lesion = np.repeat(np.arange(n_rep), len(geno))
    genotype = np.tile(geno, n_rep)
    count = np.tile(counts0[geno], n_rep)
    return CloneTable.from_arrays(lesion=lesion, genotype=genotype, count=count, n_genotypes=n_genotypes)


def per_lesion_counts(table: CloneTable, n_rep: int) -> np.ndarray:
    """(n_rep, n_genotypes) array of cells per lesion and genotype (zeros where extinct)."""
    out = np.zeros((n_rep, table.n_genotypes), dtype=np.int64)
    np.add.at(out, (table.lesion, table.genotype), table.count)
    return out


def engine_samples(
    n_rep: int,
    counts0: Sequence[int],
    durations: Sequence[float],
    birth: np.ndarray,
    death: np.ndarray,
    mutation: MutationModel,
    rng: np.random.Generator,
    *,
    stepwise: bool = False,
) -> np.ndarray:
    """Counts (n_rep, G) after the pieces: one :func:`advance` call, or one call per piece."""
    birth = np.atleast_2d(np.asarray(birth, dtype=float))
    death = np.atleast_2d(np.asarray(death, dtype=float))
    table = replicate_table(n_rep, counts0, birth.shape[1])
    if stepwise:
        for k, tau in enumerate(durations):
            advance(table, [tau], GenotypeRates(birth[k : k + 1], death[k : k + 1]), mutation, rng=rng)
    else:
        advance(table, list(durations), GenotypeRates(birth, death), mutation, rng=rng)
    return per_lesion_counts(table, n_rep)


def reference_samples(
    n_rep: int,
    counts0: Sequence[int],
    durations: Sequence[float],
    birth: np.ndarray,
    death: np.ndarray,
    mutation: MutationModel,
    rng: np.random.Generator,
) -> np.ndarray:
    """Counts (n_rep, G) from ``n_rep`` independent Gillespie trajectories."""
    birth = np.atleast_2d(np.asarray(birth, dtype=float))
    death = np.atleast_2d(np.asarray(death, dtype=float))
    return np.array(
        [reference.simulate(counts0, durations, birth, death, mutation, rng) for _ in range(n_rep)],
        dtype=np.int64,
    ).reshape(n_rep, birth.shape[1])


def rngs(seed: int, k: int) -> list[np.random.Generator]:
    """``k`` independent generators from one seed (engine and reference never share a stream)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(k)]
