"""One step of the engine: every clone advanced over an interval of piecewise-constant rates.

The order of one step:

1. Check the interval's pieces (durations ≥ 0, finite). A step of total length zero is the
   identity and draws no random numbers.
2. Ask the rate model for each clone's birth and death rates over the pieces; check them.
3. Compose the pieces into each clone's single-cell law (m, H) (:mod:`gistsim.engine.kendall`)
   and its mutant supply ∫ b·M over each piece.
4. Draw the mutant lineages founded during the step that are alive at its end, from the clone
   sizes at the step's start (:mod:`gistsim.engine.arrivals`); then, when asked for, the seeds of
   new lesions alive at its end (:mod:`gistsim.engine.seeding`; the caller founds the lesions).
5. Draw each clone's size at the step's end: exact binomial + negative binomial, or the
   skew-corrected normal where its estimated Kolmogorov error is below 1e-3.
6. Add the mutants to the clone of their genotype in their lesion (creating it if needed), and
   drop clones that died out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gistsim.engine import _kernels
from gistsim.engine.arrivals import Arrivals, sample_arrivals
from gistsim.engine.clones import CloneTable
from gistsim.engine.kendall import sample_total
from gistsim.engine.rates import MutationModel, RateModel
from gistsim.engine.seeding import Seeds, sample_seeds
from gistsim.errors import check_nonnegative
from gistsim.streams import Draws, PatientStreams, as_draws


@dataclass
class StepReport:
    """What happened during a step, for callers that want more than the new table."""

    arrivals: Arrivals
    """Surviving mutant lineages founded during the step (rows refer to the table before it)."""
    n_clone_steps: int
    """Clones advanced."""
    seeds: Seeds | None = None
    """Seeds of new lesions founded during the step and alive at its end, with their founders'
    lesion, group and genotype; None unless ``seeding_rate`` was given."""


def advance(
    table: CloneTable,
    durations_days: np.ndarray | list[float] | float,
    rates: RateModel,
    mutation: MutationModel,
    *,
    rng: np.random.Generator | PatientStreams | Draws,
    seeding_rate: float | np.ndarray | None = None,
    seeding_max_cells: float = np.inf,
) -> StepReport:
    """Advance every clone of ``table`` (in place) over consecutive pieces of constant rates.

    Parameters
    ----------
    table
        The clones; changed in place (counts, new mutant clones, extinct clones removed).
    durations_days
        Length of each piece, in days. A 4-on/2-off schedule over 6 weeks is ``[28, 14]``.
    rates
        Gives birth and death rates per day of each (group, genotype) for each piece.
    mutation
        Which secondary mutations each genotype can acquire, and their rates per division.
    rng
        A ``numpy.random.Generator`` (one stream for everything), or
        :class:`~gistsim.streams.PatientStreams` indexed by the clones' groups (each group's
        clones draw only from their own stream).
    seeding_rate
        Cells leaving to found a new lesion, per cell per day (one number, or one per clone). With it the report holds the seeds
        alive at the step's end, for the caller to found their lesions; the table is not changed by them.
    seeding_max_cells
        Groups holding more cells than this at the step's end (before its mutants) draw no seeds:
        a caller that discards them (a patient past the lethal volume) need not pay for them, and
        a clone growing a millionfold in a step would otherwise draw millions.
    """
    durations = np.atleast_1d(check_nonnegative("durations_days", durations_days)).astype(float)
    if durations.ndim != 1 or len(durations) == 0:
        raise ValueError(f"durations_days must be a non-empty 1-d list of piece lengths; got shape {durations.shape}")
    n_clones = len(table)
    if durations.sum() == 0.0 or n_clones == 0:
        return StepReport(Arrivals.empty(), 0, None if seeding_rate is None else Seeds.empty())
    b, d = rates.rates(table.group, table.genotype, table.lesion)
    b, d = np.asarray(b, dtype=float), np.asarray(d, dtype=float)
    expected = (len(durations), n_clones)
    if b.shape != expected or d.shape != expected:
        raise ValueError(
            f"rate model returned birth {b.shape} and death {d.shape}; expected (n_pieces, n_clones) = {expected}"
        )
    m_start, supply, h, valid = _kernels.compose(durations, np.ascontiguousarray(b), np.ascontiguousarray(d))
    if not valid:  # name the first bad rate
        check_nonnegative("birth rate per day", b)
        check_nonnegative("death rate per day", d)
    m = m_start[-1]

    draws = as_draws(rng)
    n0 = table.count
    arrivals = sample_arrivals(
        draws, n0, table.group, table.genotype, durations, b, d, m_start, supply, rates, mutation, table.lesion
    )
    end = sample_total(draws, n0, m, h, table.group)
    seeds = None
    if seeding_rate is not None:
        rate = seeding_rate
        if np.isfinite(seeding_max_cells):
            cells = np.bincount(table.group, weights=end)
            rate = np.where(cells[table.group] > seeding_max_cells, 0.0, seeding_rate)
        seeds = sample_seeds(draws, rate, table, durations, b, d, m_start)
    table.count = end
    if (arrivals.size > 0).any():
        src = arrivals.source
        # Drops the extinct clones in the same pass.
        table.add_cells(table.lesion[src], table.group[src], arrivals.genotype, arrivals.size)
    else:
        table.compact()
    return StepReport(arrivals, n_clones, seeds)
