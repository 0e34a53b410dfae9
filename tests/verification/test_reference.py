"""Unit tests of the slow reference simulator itself (tolerances: 4 standard errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gistsim.engine import reference
from gistsim.engine.rates import MutationModel

TWO = MutationModel(np.array([[1], [-1]]), np.array([0.05]))
NONE1 = MutationModel.none(1)


def _runs(n_rep, counts0, durations, birth, death, mutation, seed=0):
    rng = np.random.default_rng(seed)
    return np.array(
        [reference.simulate(counts0, durations, birth, death, mutation, rng) for _ in range(n_rep)]
    )


def test_pure_death_is_binomial() -> None:
    n, d, t, reps = 50, 0.3, 2.0, 2000
    x = _runs(reps, [n], [t], [[0.0]], [[d]], NONE1)[:, 0]
    p = math.exp(-d * t)
    se = math.sqrt(n * p * (1 - p) / reps)
    assert abs(x.mean() - n * p) < 4 * se
    assert x.max() <= n and x.min() >= 0


def test_pure_birth_from_one_cell_is_geometric() -> None:
    b, t, reps = 0.7, 2.0, 3000
    x = _runs(reps, [1], [t], [[b]], [[0.0]], NONE1)[:, 0]
    mean, var = math.exp(b * t), math.exp(2 * b * t) - math.exp(b * t)
    assert x.min() >= 1
    assert abs(x.mean() - mean) < 4 * math.sqrt(var / reps)


def test_pieces_apply_in_order() -> None:
    """Death in the first piece only, then nothing: Binomial(n, e^{-d t1}); the reverse order
    (nothing, then death for t2) gives Binomial(n, e^{-d t2})."""
    n, reps = 40, 2000
    x = _runs(reps, [n], [1.0, 3.0], [[0.0], [0.0]], [[0.5], [0.0]], NONE1)[:, 0]
    p = math.exp(-0.5)
    assert abs(x.mean() - n * p) < 4 * math.sqrt(n * p * (1 - p) / reps)
    y = _runs(reps, [n], [1.0, 3.0], [[0.0], [0.0]], [[0.0], [0.5]], NONE1)[:, 0]
    q = math.exp(-1.5)
    assert abs(y.mean() - n * q) < 4 * math.sqrt(n * q * (1 - q) / reps)


def test_mutants_arrive_at_u_b_n() -> None:
    """S births at rate b, no death; R inert. E R(t) = u S0 (e^{bt} - 1); R(t) is mixed Poisson,
    its variance bounded by the second moment used for the standard error."""
    s0, b, t, u, reps = 20, 0.5, 2.0, 0.05, 3000
    x = _runs(reps, [s0, 0], [t], [[b, 0.0]], [[0.0, 0.0]], TWO)
    mean = u * s0 * math.expm1(b * t)
    assert abs(x[:, 1].mean() - mean) < 4 * x[:, 1].std() / math.sqrt(reps)


def test_zero_rates_and_zero_durations_change_nothing() -> None:
    rng = np.random.default_rng(3)
    assert list(reference.simulate({0: 7, 1: 2}, [5.0], [[0.0, 0.0]], [[0.0, 0.0]], TWO, rng)) == [7, 2]
    assert list(reference.simulate([7, 2], [0.0, 0.0], [[1.0, 1.0]] * 2, [[1.0, 1.0]] * 2, TWO, rng)) == [
        7,
        2,
    ]


def test_same_seed_same_trajectory() -> None:
    a = reference.simulate([30, 0], [3.0], [[1.0, 1.0]], [[0.8, 0.2]], TWO, np.random.default_rng(9))
    b = reference.simulate([30, 0], [3.0], [[1.0, 1.0]], [[0.8, 0.2]], TWO, np.random.default_rng(9))
    assert (a == b).all()


def test_grow_to_size_stops_at_first_passage() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        c = reference.grow_to_size(0, 300, np.array([1.0, 1.0]), np.array([0.9, 0.9]), TWO, rng)
        assert c.sum() == 300  # unit jumps: the first passage hits the size exactly


def test_grow_to_size_yule_no_mutant_probability() -> None:
    """No death, R births at b(1+u): P(R = 0 at size M) = (1+u)^-(M-1) exactly."""
    u, size, reps = 0.01, 100, 3000
    mutation = MutationModel(np.array([[1], [-1]]), np.array([u]))
    rng = np.random.default_rng(6)
    zeros = sum(
        int(reference.grow_to_size(0, size, np.array([1.0, 1.0 + u]), np.zeros(2), mutation, rng)[1] == 0)
        for _ in range(reps)
    )
    p = (1 + u) ** -(size - 1)
    assert abs(zeros / reps - p) < 4 * math.sqrt(p * (1 - p) / reps)


def test_grow_to_size_needs_a_growing_founder() -> None:
    with pytest.raises(ValueError, match="birth > death"):
        reference.grow_to_size(0, 10, np.array([0.5]), np.array([0.5]), NONE1, np.random.default_rng(0))
