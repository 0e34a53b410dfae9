"""advance() refuses bad input with errors that name the field and the value."""

import numpy as np
import pytest

from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.engine.step import advance


def table():
    return CloneTable.from_arrays(lesion=[0, 1], genotype=[0, 1], count=[100, 5], n_genotypes=2)


RATES = GenotypeRates(np.array([[0.04, 0.04]]), np.array([[0.06, 0.03]]))
MUT = MutationModel(np.array([[1], [-1]]), np.array([1e-3]))


@pytest.mark.parametrize(
    "durations,message",
    [([-1.0], r"durations_days\[0\] = -1.0"), ([np.nan], "durations_days"), ([], "non-empty")],
)
def test_bad_durations(durations, message):
    with pytest.raises(ValueError, match=message):
        advance(table(), durations, RATES, MUT, rng=np.random.default_rng(0))


def test_bad_rates():
    with pytest.raises(ValueError, match=r"death_per_day\[0, 1\] = -0.1"):
        GenotypeRates(np.array([[0.04, 0.04]]), np.array([[0.06, -0.1]]))
    with pytest.raises(ValueError, match="birth_per_day"):
        GenotypeRates(np.array([[np.nan, 0.04]]), np.array([[0.06, 0.1]]))


def test_rate_model_with_wrong_pieces_is_refused():
    with pytest.raises(ValueError, match=r"expected \(n_pieces, n_clones\) = \(2, 2\)"):
        advance(table(), [10.0, 10.0], RATES, MUT, rng=np.random.default_rng(0))


def test_rates_must_match_genotypes():
    with pytest.raises(ValueError, match="shape"):
        GenotypeRates(np.array([[0.04, 0.04]]), np.array([[0.06]]))


def test_genotype_rates_gather_like_take_and_refuse_bad_codes():
    """The compiled gather equals numpy's take for every integer type the engine uses, and names
    a genotype code outside the table or a non-integer one."""
    rng = np.random.default_rng(0)
    birth, death = rng.random((2, 5)), rng.random((2, 5))
    rates = GenotypeRates(birth, death)
    codes = rng.integers(0, 5, 40)
    for dtype in (np.int32, np.int64, np.intp):
        b, d = rates.rates(np.zeros(40, dtype=np.int64), codes.astype(dtype))
        np.testing.assert_array_equal(b, birth.take(codes, axis=1))
        np.testing.assert_array_equal(d, death.take(codes, axis=1))
    with pytest.raises(IndexError, match="genotype code out of range"):
        rates.rates(np.zeros(1, dtype=np.int64), np.array([5]))
    with pytest.raises(IndexError, match="genotype code out of range"):
        rates.rates(np.zeros(1, dtype=np.int64), np.array([-1]))
    with pytest.raises(ValueError, match="genotype codes must be integers"):
        rates.rates(np.zeros(1, dtype=np.int64), np.array([1.0]))
