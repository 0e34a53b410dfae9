"""Properties of the engine step that must hold for every input (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gistsim.biology.genotypes import default_registry
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.engine.step import advance

SETTINGS = settings(max_examples=50, deadline=None)

#: Three genotypes: 0 → 1 or 2 by mutations 0 and 1, 1 → 2 by mutation 1, 2 is final.
G = 3
MUTANT_OF = np.array([[1, 2], [-1, 2], [-1, -1]])

clone_rows = st.lists(
    st.tuples(
        st.integers(0, 5),  # lesion
        st.integers(0, G - 1),  # genotype
        st.one_of(st.integers(0, 50), st.integers(0, 10**6)),  # count
    ),
    min_size=0,
    max_size=12,
)
durations_st = st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=1, max_size=3)
rate = st.floats(0.0, 0.5, allow_nan=False)
u_st = st.sampled_from([0.0, 1e-6, 1e-3, 0.05])


def make_table(rows: list[tuple[int, int, int]]) -> CloneTable:
    lesion = np.array([r[0] for r in rows], dtype=np.int64)
    genotype = np.array([r[1] for r in rows], dtype=np.int64)
    count = np.array([r[2] for r in rows], dtype=np.int64)
    return CloneTable.from_arrays(lesion=lesion, genotype=genotype, count=count, n_genotypes=G)


def make_rates(data, n_pieces: int) -> GenotypeRates:
    b = np.array(data.draw(st.lists(rate, min_size=n_pieces * G, max_size=n_pieces * G))).reshape(n_pieces, G)
    d = np.array(data.draw(st.lists(rate, min_size=n_pieces * G, max_size=n_pieces * G))).reshape(n_pieces, G)
    return GenotypeRates(b, d)


def assert_well_formed(table: CloneTable) -> None:
    assert table.count.dtype == np.int64
    assert (table.count > 0).all()
    key = table.lesion * table.n_genotypes + table.genotype
    assert (np.diff(key) > 0).all(), "rows sorted by (lesion, genotype), one row per pair"
    assert len(table) == len(np.unique(key))


@SETTINGS
@given(rows=clone_rows, durations=durations_st, u=u_st, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_counts_stay_positive_and_rows_unique(rows, durations, u, seed, data) -> None:
    table = make_table(rows)
    assert_well_formed(table)
    rates = make_rates(data, len(durations))
    advance(
        table, durations, rates, MutationModel(MUTANT_OF, np.array([u, u])), rng=np.random.default_rng(seed)
    )
    assert_well_formed(table)
    assert set(table.lesion.tolist()) <= {r[0] for r in rows if r[2] > 0}, "no cells appear in empty lesions"


@SETTINGS
@given(rows=clone_rows, durations=durations_st, u=u_st, seed=st.integers(0, 2**32 - 1))
def test_zero_rates_leave_counts_unchanged(rows, durations, u, seed) -> None:
    table = make_table(rows)
    before = table.copy()
    zero = np.zeros((len(durations), G))
    advance(
        table,
        durations,
        GenotypeRates(zero, zero),
        MutationModel(MUTANT_OF, np.array([u, u])),
        rng=np.random.default_rng(seed),
    )
    for field in ("lesion", "group", "genotype", "count"):
        assert (getattr(table, field) == getattr(before, field)).all()


@SETTINGS
@given(rows=clone_rows, n_pieces=st.integers(1, 3), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_zero_length_step_is_identity_and_draws_nothing(rows, n_pieces, seed, data) -> None:
    table = make_table(rows)
    before = table.copy()
    rng = np.random.default_rng(seed)
    state = rng.bit_generator.state
    advance(
        table,
        [0.0] * n_pieces,
        make_rates(data, n_pieces),
        MutationModel(MUTANT_OF, np.array([0.1, 0.1])),
        rng=rng,
    )
    assert rng.bit_generator.state == state
    for field in ("lesion", "group", "genotype", "count"):
        assert (getattr(table, field) == getattr(before, field)).all()


@SETTINGS
@given(rows=clone_rows, durations=durations_st, u=u_st, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_same_seed_same_result(rows, durations, u, seed, data) -> None:
    rates = make_rates(data, len(durations))
    mutation = MutationModel(MUTANT_OF, np.array([u, u]))
    a, b = make_table(rows), make_table(rows)
    advance(a, durations, rates, mutation, rng=np.random.default_rng(seed))
    advance(b, durations, rates, mutation, rng=np.random.default_rng(seed))
    for field in ("lesion", "group", "genotype", "count"):
        assert (getattr(a, field) == getattr(b, field)).all()


@SETTINGS
@given(
    n_lesions=st.integers(1, 6),
    data=st.data(),
    log10_count=st.floats(2.0, 11.0),
    days=st.floats(1.0, 200.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_registry_mutants_respect_max_secondary_and_keep_the_driver(
    n_lesions, data, log10_count, days, seed
) -> None:
    """With the shipped registry and 1e-6 per bp per division (mutants plentiful): no genotype
    ever carries more than ``max_secondary`` secondary mutations, and no lesion changes driver."""
    reg = default_registry()
    codes = np.arange(reg.n_genotypes)
    start = np.array(
        data.draw(st.lists(st.sampled_from(codes.tolist()), min_size=n_lesions, max_size=n_lesions))
    )
    table = CloneTable.from_arrays(
        lesion=np.arange(n_lesions),
        genotype=start,
        count=np.full(n_lesions, int(10**log10_count)),
        n_genotypes=reg.n_genotypes,
    )
    rates = GenotypeRates(np.full((1, reg.n_genotypes), 0.04), np.full((1, reg.n_genotypes), 0.035))
    advance(table, [days], rates, MutationModel.from_registry(reg, 1e-6, escape_target_bp=2.0), rng=np.random.default_rng(seed))
    assert_well_formed(table)
    assert (reg.n_secondary(table.genotype) <= reg.max_secondary).all()
    assert (reg.driver_of[table.genotype] == reg.driver_of[start[table.lesion]]).all()
    # Secondary mutations are only ever gained: each clone carries its lesion's founder mutations.
    founder_mask = reg.secondary_mask[start[table.lesion]]
    assert ((reg.secondary_mask[table.genotype] & founder_mask) == founder_mask).all()


@SETTINGS
@given(rows=clone_rows)
def test_from_arrays_merges_duplicate_pairs(rows) -> None:
    table = make_table(rows)
    assert_well_formed(table)
    expected: dict[tuple[int, int], int] = {}
    for lesion, genotype, count in rows:
        expected[(lesion, genotype)] = expected.get((lesion, genotype), 0) + count
    expected = {k: v for k, v in expected.items() if v > 0}
    got = {
        (int(a), int(b)): int(c) for a, b, c in zip(table.lesion, table.genotype, table.count, strict=True)
    }
    assert got == expected
