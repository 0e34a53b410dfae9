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


def test_a_lesion_factor_scales_only_its_secondary_mutants_net_growth():
    evo = _evolution(0.5, escape=0.4)
    birth, death = evo.untreated_birth(REG), np.full(REG.n_genotypes, evo.death_rate_per_day)
    plain = DrugRates(birth_rate_per_day=birth, death_rate_per_day=death)
    scaled = DrugRates(birth_rate_per_day=birth, death_rate_per_day=death, lesion_secondary=np.array([1.0, 1.6]))
    assert scaled.uses_lesion and not plain.uses_lesion  # the engine must pass each clone's lesion
    codes = np.arange(REG.n_genotypes)
    group = np.zeros_like(codes)
    b1, d1 = plain.rates(group, codes)
    b0, _ = scaled.rates(group, codes, np.zeros_like(codes))  # lesion 0: factor 1
    b2, d2 = scaled.rates(group, codes, np.ones_like(codes))  # lesion 1: factor 1.6
    np.testing.assert_allclose(b0, b1)
    np.testing.assert_allclose(b2[0, ~KIT_SECONDARY], b1[0, ~KIT_SECONDARY])  # no secondary: untouched
    np.testing.assert_allclose(b2[0, KIT_SECONDARY] - death[KIT_SECONDARY], 1.6 * (b1[0, KIT_SECONDARY] - death[KIT_SECONDARY]))
    np.testing.assert_allclose(d2, d1)  # the same death rate: only the net growth moves
    with pytest.raises(ValueError, match="lesion_secondary need each clone's lesion"):
        scaled.rates(group, codes)


class _Cohort:
    def __init__(self, n: int, lesions_each: int):
        self.n_patients = n
        self.lesion_patient = np.repeat(np.arange(n), lesions_each)


def _draw(evo, n=2000, lesions_each=3, seed=5):
    from gistsim.clinic.cohort import draw_paces
    from gistsim.streams import PatientStreams, as_draws

    cohort = _Cohort(n, lesions_each)
    draw_paces(cohort, evo, as_draws(PatientStreams.from_ids(seed, np.arange(n))))
    return cohort


def test_patient_factors_are_drawn_last_only_when_on_shared_by_its_lesions_and_capped():
    n = 2000
    evo = _evolution(0.5)
    evo.secondary_growth_iiv_sigma_log.value = 0.0
    evo.secondary_growth_lesion_sigma_log.value = 0.0
    off = _draw(evo, n)
    assert off.secondary_scale is None
    evo.secondary_growth_iiv_sigma_log.value = 0.8
    on = _draw(evo, n)
    np.testing.assert_array_equal(on.kinetics_scale, off.kinetics_scale)  # earlier factors keep their numbers
    assert on.escape_scale is off.escape_scale is None and on.lesion_scale is off.lesion_scale is None
    per_patient = on.secondary_scale.reshape(n, 3)
    np.testing.assert_array_equal(per_patient, per_patient[:, :1].repeat(3, axis=1))  # one factor per patient
    f = per_patient[:, 0]
    assert f.max() == pytest.approx(2.0)  # 1 / 0.5: never outgrows its parent
    # Median 1 (the cap at 2 is above it): the sample median of n normals has SE 1.2533/sqrt(n),
    # times sigma on the log scale; 4 SE (alpha ~ 6e-5).
    assert abs(np.log(np.median(f))) < 4 * 0.8 * 1.2533 / np.sqrt(n)
    # Below the cap the log-factor is normal with sd 0.8: the share under exp(-0.8) is Phi(-1) = 0.1587,
    # binomial SE sqrt(0.1587 * 0.8413 / n) = 0.0082; 4 SE.
    assert abs((f < np.exp(-0.8)).mean() - 0.1587) < 4 * 0.0082


def test_lesion_factors_vary_within_a_patient_on_top_of_its_own():
    n = 2000
    evo = _evolution(0.3)  # cap 1/0.3 = 3.3, at z > 1.5 of the sum below
    evo.secondary_growth_iiv_sigma_log.value = 0.6
    evo.secondary_growth_lesion_sigma_log.value = 0.0
    patient_only = _draw(evo, n).secondary_scale.reshape(n, 3)
    evo.secondary_growth_lesion_sigma_log.value = 0.5
    both = _draw(evo, n).secondary_scale.reshape(n, 3)
    capped = both >= 1 / 0.3 - 1e-12
    assert 0 < capped.mean() < 0.1
    # The lesion's normal multiplies the patient's (same patient normals: drawn first, same stream).
    ratio = np.log(both / patient_only)[~capped]
    # Below the cap the log-ratio is the lesion's normal, sd 0.5 (slightly less: the cap cuts its top);
    # sample sd of ~5,500 values has SE 0.5/sqrt(2 x 5500) ~ 0.005; 0.05 allows for the cut.
    assert abs(ratio.std() - 0.5) < 0.05
    # Lesions of one patient differ: the within-patient sd of log factors is the lesion sigma.
    logs = np.log(both)
    within = logs - logs.mean(axis=1, keepdims=True)
    # E[within sum of squares / (n (k - 1))] = sigma^2 = 0.25; capped rows pull it down a little.
    assert 0.2 < (within**2).sum() / (n * 2) < 0.27


@pytest.mark.parametrize("name", ["secondary_growth_iiv_sigma_log", "secondary_growth_lesion_sigma_log"])
def test_its_variability_is_fitted_and_off_before_calibration(name):
    p = getattr(default_evolution(calibrated=False), name)
    assert f"evolution.{name}" in FITTED
    assert p.value == 0.0 and p.prior.kind == "uniform" and p.prior.low == 0.0
