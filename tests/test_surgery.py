"""Resection: R0 removes a lesion, R1 leaves a microscopic focus of about ``residual_cells``."""

import math

import numpy as np
import pytest

from gistsim.biology.parameters import default_evolution
from gistsim.clinic.parameters import default_clinic
from gistsim.clinic.surgery import resect
from gistsim.engine.clones import CloneTable


def table() -> CloneTable:
    # Lesion 0: a 3-cm-sized lesion in three clones; lesion 1: a tiny one; lesion 2: not operated.
    return CloneTable.from_arrays(
        lesion=np.array([0, 0, 0, 1, 2]), genotype=np.array([0, 1, 2, 0, 0]),
        count=np.array([4_000_000_000, 500_000_000, 1_000_000, 200_000, 7_000_000]), n_genotypes=3,
    )  # fmt: skip


def surgery(r0_probability: float):
    params = default_clinic().surgery
    params.r0_probability.value = r0_probability
    return params


def cells(t: CloneTable, lesion: int) -> int:
    return int(t.count[t.lesion == lesion].sum())


def test_r0_removes_every_cell_of_the_operated_lesions_only():
    t = table()
    r0 = resect(t, np.array([0, 1]), surgery(1.0), rng=np.random.default_rng(1))
    assert r0.all()
    assert cells(t, 0) == 0 and cells(t, 1) == 0
    assert cells(t, 2) == 7_000_000


def test_r1_leaves_about_residual_cells_sampled_from_the_lesion():
    params = surgery(0.0)
    m = params.residual_cells.value
    total = 4_501_000_000
    kept, clone1 = [], []
    for seed in range(200):
        t = table()
        assert not resect(t, np.array([0]), params, rng=np.random.default_rng(seed)).any()
        kept.append(cells(t, 0))
        clone1.append(int(t.count[(t.lesion == 0) & (t.genotype == 1)].sum()))
        assert cells(t, 2) == 7_000_000
    # Sum of binomials with p = m / total: mean m, variance < m. The mean of 200 draws is within
    # 4 standard errors (alpha ~ 6e-5) of m, and each clone is sampled in proportion to its size.
    se = math.sqrt(m / 200)
    assert abs(np.mean(kept) - m) < 4 * se
    share = 500_000_000 / total
    assert abs(np.mean(clone1) - m * share) < 4 * math.sqrt(m * share / 200)


def test_r1_of_a_lesion_smaller_than_the_focus_keeps_it_whole():
    t = table()
    resect(t, np.array([1]), surgery(0.0), rng=np.random.default_rng(3))
    assert cells(t, 1) == 200_000


def test_default_r1_focus_is_below_ct_detection():
    clinic, evo = default_clinic(), default_evolution()
    volume_mm3 = clinic.surgery.residual_cells.value / evo.cells_per_cm3.value * 1000.0
    diameter = (6.0 * volume_mm3 / math.pi) ** (1.0 / 3.0)
    assert diameter < clinic.imaging.detection_limit_mm.value / 2


def test_a_lesion_given_twice_is_refused():
    with pytest.raises(ValueError, match="must not repeat"):
        resect(table(), np.array([0, 0]), surgery(1.0), rng=np.random.default_rng(0))
