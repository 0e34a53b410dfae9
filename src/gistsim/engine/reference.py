"""A slow, exact, event-by-event reference simulator (Gillespie's direct method).

Why this exists
---------------
The engine (:mod:`gistsim.engine.step`, :mod:`gistsim.engine.history`) samples whole clones at
once from Kendall's closed forms, draws mutant arrivals from a Poisson intensity built on the
*expected* path of the source clone, and uses a normal limit for large clones. Each of those steps
is a place where a mistake (or an approximation larger than claimed) could hide. This module
shares none of that machinery: it simulates the continuous-time Markov chain directly, one
reaction at a time, with nothing but the rates. The verification suite
(:mod:`gistsim.verification`) compares the engine against it in distribution.

It is slow by design — plain Python, one trajectory at a time, a few microseconds per event — so
keep populations small (at most about 1e4 cells, and a few 1e4 events per trajectory).

The model
---------
Species are the cell counts ``N_g`` of each genotype ``g``. Reactions of genotype ``g``, with the
rates of the current piece:

* birth      ``g → 2g``        at rate ``b_g · N_g``
* death      ``g → ∅``         at rate ``d_g · N_g``
* mutation k ``g → g + g'_k``  at rate ``u_k · b_g · N_g`` for every ``k`` with
  ``g'_k = mutation.mutant_of[g, k] ≥ 0`` (the source cell is kept: the mutant is an extra cell).

Rates are piecewise constant. At a piece boundary the pending waiting time is discarded and redrawn
with the new rates, which is exact because the exponential clock is memoryless.

All randomness comes from the ``numpy.random.Generator`` passed as ``rng``, one scalar at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from gistsim.engine.rates import MutationModel


def _as_pieces(durations: Sequence[float] | float, birth: np.ndarray, death: np.ndarray):
    durations = [float(x) for x in np.atleast_1d(np.asarray(durations, dtype=float))]
    birth = np.atleast_2d(np.asarray(birth, dtype=float))
    death = np.atleast_2d(np.asarray(death, dtype=float))
    if birth.shape != death.shape or birth.shape[0] != len(durations):
        raise ValueError(
            f"birth {birth.shape} and death {death.shape} must both have shape (n_pieces, n_genotypes) "
            f"with n_pieces = len(durations) = {len(durations)}"
        )
    if any(t < 0 or not math.isfinite(t) for t in durations):
        raise ValueError(f"durations must be finite and >= 0; got {durations}")
    if (birth < 0).any() or (death < 0).any() or not (np.isfinite(birth).all() and np.isfinite(death).all()):
        raise ValueError("birth and death rates must be finite and >= 0")
    return durations, birth, death


def _reaction_table(b: np.ndarray, d: np.ndarray, mutation: MutationModel):
    """Per genotype: total rate per cell, and the list of (cumulative probability, change)."""
    n_geno = len(b)
    per_cell = []
    choices = []
    for g in range(n_geno):
        events = [(float(b[g]), ((g, +1),)), (float(d[g]), ((g, -1),))]
        for k, target in enumerate(mutation.mutant_of[g]):
            if target >= 0:
                events.append((float(mutation.rate_per_division[k] * b[g]), ((int(target), +1),)))
        events = [e for e in events if e[0] > 0.0]
        total = sum(rate for rate, _ in events)
        per_cell.append(total)
        cum, acc = [], 0.0
        for rate, change in events:
            acc += rate / total
            cum.append((acc, change))
        choices.append(cum)
    return per_cell, choices


def _pick(choices: list, u: float):
    """First entry whose cumulative probability exceeds ``u`` (the last one guards rounding)."""
    for acc, change in choices:
        if u < acc:
            return change
    return choices[-1][1]


def _initial_counts(counts0: Mapping[int, int] | Sequence[int] | np.ndarray, n_genotypes: int) -> list[int]:
    counts = [0] * n_genotypes
    items = counts0.items() if isinstance(counts0, Mapping) else enumerate(np.asarray(counts0).ravel())
    for g, n in items:
        if not 0 <= int(g) < n_genotypes:
            raise ValueError(f"genotype {g} is out of range 0..{n_genotypes - 1}")
        if int(n) < 0 or int(n) != n:
            raise ValueError(f"count of genotype {g} must be a non-negative integer; got {n}")
        counts[int(g)] += int(n)
    return counts


def simulate(
    counts0: Mapping[int, int] | Sequence[int] | np.ndarray,
    durations: Sequence[float] | float,
    birth: np.ndarray,
    death: np.ndarray,
    mutation: MutationModel,
    rng: np.random.Generator,
) -> np.ndarray:
    """Cell counts per genotype after consecutive pieces of constant rates (one exact trajectory).

    Parameters
    ----------
    counts0
        Initial counts, as ``{genotype: count}`` or an array of length ``n_genotypes``.
    durations
        Length of each piece in days, e.g. ``[28, 14, 28, 14]``.
    birth, death
        Rates per cell per day, shape ``(n_pieces, n_genotypes)``.
    mutation
        Which mutations each genotype can acquire and their probability per division.
    rng
        Source of all random draws.

    Returns an int64 array of length ``n_genotypes``.
    """
    durations, birth, death = _as_pieces(durations, birth, death)
    n_geno = birth.shape[1]
    counts = _initial_counts(counts0, n_geno)
    for piece, length in enumerate(durations):
        per_cell, choices = _reaction_table(birth[piece], death[piece], mutation)
        active = [g for g in range(n_geno) if per_cell[g] > 0.0]
        t = 0.0
        while True:
            total = 0.0
            for g in active:
                total += counts[g] * per_cell[g]
            if total <= 0.0:
                break  # nothing can happen for the rest of this piece
            t += rng.standard_exponential() / total
            if t >= length:
                break  # memoryless: the next piece redraws its own waiting time
            chosen = _reacting_genotype(active, counts, per_cell, rng.random() * total)
            for g, delta in _pick(choices[chosen], rng.random()):
                counts[g] += delta
    return np.array(counts, dtype=np.int64)


def _reacting_genotype(active: list[int], counts: list[int], per_cell: list[float], x: float) -> int:
    """The genotype whose reaction fires, chosen ∝ N_g · (rate per cell) with x uniform on [0, total)."""
    for g in active:
        x -= counts[g] * per_cell[g]
        if x < 0.0:
            return g
    # Rounding ran past the end: take the last genotype that has cells.
    return next(g for g in reversed(active) if counts[g] > 0)


def grow_to_size(
    founder_genotype: int,
    size: int,
    birth: np.ndarray,
    death: np.ndarray,
    mutation: MutationModel,
    rng: np.random.Generator,
    *,
    max_events: int = 10_000_000,
) -> np.ndarray:
    """Counts per genotype when the total first reaches ``size``, growing from one founder cell.

    Whenever every cell has died the lesion restarts from one new founder cell, as in
    :func:`gistsim.engine.history.sample_history`. Only the state at a first-passage time is
    wanted, not the time itself, so this runs the embedded jump chain (each reaction chosen with
    probability ∝ its propensity; no waiting times are drawn), which is exact for that state.

    ``birth`` and ``death`` are the (untreated) rates per genotype, shape ``(n_genotypes,)`` or
    ``(1, n_genotypes)``.
    """
    birth = np.atleast_2d(np.asarray(birth, dtype=float))
    death = np.atleast_2d(np.asarray(death, dtype=float))
    if birth.shape[0] != 1 or birth.shape != death.shape:
        raise ValueError("grow_to_size needs one piece of rates: birth and death of shape (n_genotypes,)")
    n_geno = birth.shape[1]
    if birth[0, founder_genotype] <= death[0, founder_genotype]:
        raise ValueError("the founder genotype must grow (birth > death) to reach a size")
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be >= 1; got {size}")
    per_cell, choices = _reaction_table(birth[0], death[0], mutation)
    active = [g for g in range(n_geno) if per_cell[g] > 0.0]
    counts = [0] * n_geno
    counts[founder_genotype] = 1
    n_total = 1
    for _ in range(max_events):
        if n_total >= size:
            return np.array(counts, dtype=np.int64)
        total = 0.0
        for g in active:
            total += counts[g] * per_cell[g]
        if total <= 0.0:
            raise RuntimeError(f"the population {counts} cannot change any more and is below {size} cells")
        chosen = _reacting_genotype(active, counts, per_cell, rng.random() * total)
        for g, delta in _pick(choices[chosen], rng.random()):
            counts[g] += delta
            n_total += delta
        if n_total == 0:  # the founder lineage died out: a new founder cell starts again
            counts[founder_genotype] = 1
            n_total = 1
    raise RuntimeError(f"grow_to_size did not reach {size} cells within {max_events} events")
