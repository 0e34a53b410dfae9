"""A fitness cost of secondary KIT mutations (evolution.secondary_relative_growth), untreated."""

import numpy as np
import pytest

from gistsim.biology.genotypes import default_registry
from gistsim.biology.parameters import default_evolution
from gistsim.calibration.fit import FITTED
from gistsim.clinic.pd import DrugRates
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import MutationModel
from gistsim.engine.step import advance

REG = default_registry()
KIT_SECONDARY = REG.kit_secondary_mask != 0


def _evolution(secondary: float, escape: float = 0.4):
    evo = default_evolution()
    evo.secondary_relative_growth.value = secondary
    evo.escape_relative_growth.value = escape
    return evo


def test_secondary_carriers_grow_at_the_relative_rate_bypass_and_both_at_the_product():
    evo = _evolution(0.6, escape=0.25)
    net = evo.untreated_birth(REG) - evo.death_rate_per_day
    r = evo.net_growth_rate_per_day.value
    both = KIT_SECONDARY & REG.bypass_carrier
    assert both.any() and (KIT_SECONDARY & ~REG.bypass_carrier).any()  # the registry has each kind
    np.testing.assert_allclose(net[~KIT_SECONDARY & ~REG.bypass_carrier], r, rtol=1e-12)
    np.testing.assert_allclose(net[KIT_SECONDARY & ~REG.bypass_carrier], 0.6 * r, rtol=1e-12)
    np.testing.assert_allclose(net[~KIT_SECONDARY & REG.bypass_carrier], 0.25 * r, rtol=1e-12)
    np.testing.assert_allclose(net[both], 0.15 * r, rtol=1e-12)
    # One is no cost: every KIT-driven genotype grows like its parent.
    none = _evolution(1.0, escape=0.25).untreated_birth(REG) - evo.death_rate_per_day
    np.testing.assert_allclose(none[~REG.bypass_carrier], r, rtol=1e-12)


def test_a_costly_mutant_grows_slower_than_its_parent_by_the_expected_mean():
    evo = _evolution(0.5)
    parent, mutant = REG.code("KIT_exon11"), REG.code("KIT_exon11", ["T670I"])
    birth = evo.untreated_birth(REG)
    rates = DrugRates(birth_rate_per_day=birth, death_rate_per_day=np.full(REG.n_genotypes, evo.death_rate_per_day))
    table = CloneTable.from_arrays(lesion=[0, 1], genotype=[parent, mutant], count=[10**8, 10**8],
                                   n_genotypes=REG.n_genotypes, group=[0, 0])  # fmt: skip
    days = 200.0
    advance(table, np.array([days]), rates, MutationModel.none(REG.n_genotypes), rng=np.random.default_rng(11))
    after = dict(zip(table.lesion.tolist(), table.count.tolist()))
    r = evo.net_growth_rate_per_day.value
    # 1e8 cells: the count's relative sd is ~sqrt((b+d)/(b-d)/1e8) ~ 1e-3 at most; 1% is ~10 sd.
    assert after[0] == pytest.approx(1e8 * np.exp(r * days), rel=0.01)
    assert after[1] == pytest.approx(1e8 * np.exp(0.5 * r * days), rel=0.01)


def test_it_is_fitted_with_a_prior_that_allows_no_cost():
    evo = default_evolution(calibrated=False)
    p = evo.secondary_relative_growth
    assert "evolution.secondary_relative_growth" in FITTED
    assert p.prior.kind == "uniform" and p.prior.low > 0.0 and p.prior.high == 1.0
    assert p.value == 1.0  # before calibration: no cost


def test_a_patient_factor_scales_only_its_secondary_mutants_net_growth():
    evo = _evolution(0.5, escape=0.4)
    birth, death = evo.untreated_birth(REG), np.full(REG.n_genotypes, evo.death_rate_per_day)
    plain = DrugRates(birth_rate_per_day=birth, death_rate_per_day=death)
    scaled = DrugRates(birth_rate_per_day=birth, death_rate_per_day=death, group_secondary=np.array([1.0, 1.6]))
    codes = np.arange(REG.n_genotypes)
    b1, d1 = plain.rates(np.zeros_like(codes), codes)
    b0, _ = scaled.rates(np.zeros_like(codes), codes)  # patient 0: factor 1
    b2, d2 = scaled.rates(np.ones_like(codes), codes)  # patient 1: factor 1.6
    np.testing.assert_allclose(b0, b1)
    np.testing.assert_allclose(b2[0, ~KIT_SECONDARY], b1[0, ~KIT_SECONDARY])  # no secondary: untouched
    np.testing.assert_allclose(b2[0, KIT_SECONDARY] - death[KIT_SECONDARY], 1.6 * (b1[0, KIT_SECONDARY] - death[KIT_SECONDARY]))
    np.testing.assert_allclose(d2, d1)  # the same death rate: only the net growth moves


def test_patient_factors_are_drawn_last_only_when_on_and_capped_at_the_parent():
    from gistsim.clinic.cohort import draw_paces
    from gistsim.streams import PatientStreams, as_draws

    n = 2000
    evo = _evolution(0.5)

    class Holder:
        n_patients = n

    off, on = Holder(), Holder()
    draw_paces(off, evo, as_draws(PatientStreams.from_ids(5, np.arange(n))))
    assert off.secondary_scale is None
    evo.secondary_growth_iiv_sigma_log.value = 0.8
    draw_paces(on, evo, as_draws(PatientStreams.from_ids(5, np.arange(n))))
    np.testing.assert_array_equal(on.kinetics_scale, off.kinetics_scale)  # earlier factors keep their numbers
    assert on.escape_scale is off.escape_scale is None and on.lesion_scale is off.lesion_scale is None
    assert on.secondary_scale.max() == pytest.approx(2.0)  # 1 / 0.5: never outgrows its parent
    # Median 1 (the cap at 2 is above it): sample median of n normals has SE 1.2533/sqrt(n) = 0.028,
    # 0.022 on the log scale at sigma 0.8; 4 SE (alpha ~ 6e-5).
    assert abs(np.log(np.median(on.secondary_scale))) < 4 * 0.8 * 1.2533 / np.sqrt(n)
    # Below the cap the log-factor is normal with sd 0.8: the share under exp(-0.8) is Phi(-1) = 0.159,
    # binomial SE sqrt(0.159 * 0.841 / n) = 0.0082; 4 SE.
    assert abs((on.secondary_scale < np.exp(-0.8)).mean() - 0.1587) < 4 * 0.0082


def test_its_variability_is_fitted_and_off_before_calibration():
    p = default_evolution(calibrated=False).secondary_growth_iiv_sigma_log
    assert "evolution.secondary_growth_iiv_sigma_log" in FITTED
    assert p.value == 0.0 and p.prior.kind == "uniform" and p.prior.low == 0.0
