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
