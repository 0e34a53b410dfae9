"""Quadrature profiles: pairs share one only when their numbers are bit-identical."""

import numpy as np
import pytest

from gistsim.engine import arrivals


def pairs(seed: int):
    """300 clones of 5 kinds (source rates, possible mutations, mutant rates); a tenth of them with
    mutant rates of their own, as if their patient had another exposure."""
    rng = np.random.default_rng(seed)
    n_clones, n_mut, n_kinds = 300, 4, 5
    kind_src = rng.choice([0.02, 0.04, 0.05], (2, n_kinds))
    kind_possible = rng.random((n_kinds, n_mut)) < 0.6
    kind_possible[:, 0] = True
    kind_mutant = rng.choice([0.0, 0.03, 0.04], (2, n_kinds, n_mut))
    kind = rng.integers(0, n_kinds, n_clones)
    ci, ki = np.nonzero(kind_possible[kind])
    mutant = kind_mutant[:, kind[ci], ki]
    own = np.isin(ci, np.flatnonzero(rng.random(n_clones) < 0.1))
    mutant[:, own] = rng.random((2, int(own.sum())))
    return kind_src[:, kind], mutant, ci, ki, n_mut


def check(first, prof, src, mutant, ci, ki):
    """Every pair has the numbers of its profile's pair (what makes sharing exact)."""
    bits = np.vstack([src[:, ci], mutant, ki[None, :].astype(float)])
    np.testing.assert_array_equal(bits, bits[:, first[prof]])
    return len(first)


def clone_configurations(src, mutant, ci, ki):
    """Distinct (source numbers, set of (k, mutant numbers)) over the clones."""
    sets = {}
    for c, k, col in zip(ci, ki, mutant.T):
        sets.setdefault(c, []).append((k, *col))
    return len({(tuple(src[:, c]), tuple(v)) for c, v in sets.items()})


@pytest.mark.parametrize("seed", [1, 2])
def test_profiles_share_only_identical_numbers(seed, monkeypatch):
    src, mutant, ci, ki, n_mut = pairs(seed)
    n_fast = check(*arrivals._pair_profiles(src, mutant, ci, ki), src, mutant, ci, ki)
    # Clones with the same numbers throughout share their pairs' profiles.
    assert n_fast <= clone_configurations(src, mutant, ci, ki) * n_mut < len(ci) / 2
    # Every hash colliding forces the exact fallback, which merges all identical pairs.
    monkeypatch.setattr(arrivals, "_clone_hashes", lambda src_bits, *_: np.zeros(src_bits.shape[1], np.uint64))
    n_slow = check(*arrivals._pair_profiles(src, mutant, ci, ki), src, mutant, ci, ki)
    assert n_slow == len(np.unique(np.vstack([src[:, ci], mutant, ki[None, :]]).T, axis=0)) <= n_fast
