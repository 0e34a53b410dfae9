import numpy as np
import pytest

from gistsim.engine.clones import CloneTable


def make(**kw):
    base = dict(lesion=[3, 1, 3, 1], genotype=[2, 0, 2, 1], count=[5, 7, 6, 0], n_genotypes=4)
    base.update(kw)
    return CloneTable.from_arrays(**base)


def test_merges_sorts_and_drops_empty():
    t = make()
    assert t.lesion.tolist() == [1, 3]
    assert t.genotype.tolist() == [0, 2]
    assert t.count.tolist() == [7, 11]
    assert np.all(np.diff(t.key) > 0)


def test_add_cells_joins_existing_clone_or_creates_one():
    t = make()
    t.add_cells(np.array([3, 1, 1]), np.array([3, 1, 1]), np.array([2, 3, 3]), np.array([4, 1, 2]))
    assert dict(zip(zip(t.lesion.tolist(), t.genotype.tolist()), t.count.tolist())) == {
        (1, 0): 7,
        (1, 3): 3,
        (3, 2): 15,
    }
    assert np.all(np.diff(t.key) > 0)
    ids, totals = t.lesion_totals()
    assert ids.tolist() == [1, 3] and totals.tolist() == [10, 15]


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(count=[5, -1, 6, 0]), r"count\[1\] = -1"),
        (dict(count=[5.0, np.nan, 6.0, 0.0]), r"count\[1\] = nan"),
        (dict(count=[5.5, 1.0, 6.0, 0.0]), r"count\[0\] = 5.5"),
        (dict(genotype=[2, 0, 9, 1]), r"genotype = 9 .*0\.\.3"),
        (dict(lesion=[3, -1, 3, 1]), r"lesion = -1"),
        (dict(group=[0, 1, 1, 1]), r"lesion 3 has clones in groups"),
        (dict(count=[1, 2]), r"equal lengths"),
    ],
)
def test_bad_input_names_field_and_value(kw, message):
    with pytest.raises(ValueError, match=message):
        make(**kw)


def test_add_cells_ignores_empty_rows_and_drops_clones_left_without_cells():
    t = make()
    t.count[0] = 0  # as after a step in which the clone died out
    t.add_cells(np.array([3, 5]), np.array([3, 5]), np.array([1, 2]), np.array([2, 0]))
    assert dict(zip(zip(t.lesion.tolist(), t.genotype.tolist()), t.count.tolist())) == {(3, 1): 2, (3, 2): 11}
    assert np.all(np.diff(t.key) > 0)
