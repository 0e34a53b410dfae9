"""KIT-independent resistance: who can acquire it, its rate, its growth, and that drugs spare it."""

import dataclasses
import math

import numpy as np
import pytest

from gistsim.biology.genotypes import default_registry
from gistsim.biology.parameters import default_evolution
from gistsim.calibration.simulate import Z_SOFT, Outcome, distance
from gistsim.calibration.targets import builtin_targets
from gistsim.clinic.pd import kill_fraction
from gistsim.clinic.potency import build_potency, default_potency_parameters
from gistsim.engine.rates import MutationModel

REG = default_registry()
BYPASS = [k for k, m in enumerate(REG.secondary) if not m.kit]


def test_every_driver_can_acquire_it_once():
    for d in REG.drivers:
        code = REG.code(d.name)
        mutant = REG.mutant_of[code, BYPASS[0]]
        assert mutant >= 0 and REG.bypass_carrier[mutant]
        assert REG.mutant_of[mutant, BYPASS[0]] == -1  # carried already


def test_its_rate_is_the_parameter_times_the_per_bp_rate_and_is_required():
    with pytest.raises(ValueError, match="escape_target_bp is None.*KIT_independent"):
        MutationModel.from_registry(REG, 1e-9)
    m = MutationModel.from_registry(REG, 1e-9, escape_target_bp=3.0)
    assert m.rate_per_division[BYPASS[0]] == pytest.approx(3e-9)
    kit = [k for k, s in enumerate(REG.secondary) if s.kit]
    assert np.allclose(m.rate_per_division[kit], 1e-9 * np.array([REG.secondary[k].target_size for k in kit]))
    evo = default_evolution()
    assert evo.mutation_model(REG).rate_per_division[BYPASS[0]] == pytest.approx(
        evo.mutation_rate_per_bp_per_division.value * evo.escape_target_bp.value
    )


def test_carriers_grow_at_the_relative_rate_with_the_same_death_rate():
    evo = default_evolution()
    evo.escape_relative_growth.value = 0.25
    evo.secondary_relative_growth.value = 1.0  # KIT-driven clones all at the net rate (its cost: test_secondary_cost.py)
    birth = evo.untreated_birth(REG)
    net = birth - evo.death_rate_per_day
    r = evo.net_growth_rate_per_day.value
    assert np.allclose(net[~REG.bypass_carrier], r)
    assert np.allclose(net[REG.bypass_carrier], 0.25 * r)


def test_every_drug_spares_it_at_its_median_exposure():
    # "R" as the potency rules define it: kill fraction <= 0.1 at the exon-11 anchor's exposure,
    # which is 4 x (15 x for ripretinib) the exon-11 EC50 of the parameter file (before calibration,
    # whose whole-drug factors move every row alike).
    pot = build_potency(default_potency_parameters(calibrated=False))
    for drug in pot.drugs:
        kappa = 15.0 if drug == "ripretinib" else 4.0
        exposure = kappa * pot.parameters.ec50_ng_ml[drug]["KIT_exon11"].value
        codes = np.flatnonzero(REG.bypass_carrier)
        f = kill_fraction(exposure, pot.ec50(drug, codes), pot.hill[pot.drug_index(drug)])
        assert f.max() <= 0.1, drug


def _outcome(name: str, simulated: float, published: float, tol: float) -> Outcome:
    fields = {f.name: None for f in dataclasses.fields(Outcome)}
    return Outcome(**{**fields, "name": name, "simulated": simulated, "published": published, "tolerance": tol})


def test_distance_is_quadratic_near_and_still_falls_far_away():
    t = next(t for t in builtin_targets() if t.fit)
    d = lambda sim: distance([_outcome(t.name, sim, 10.0, 1.0)], [t])  # noqa: E731
    assert d(10.1) == pytest.approx(0.01, rel=1e-3)
    assert d(10.0 + 14) < d(10.0 + 15) < d(10.0 + 30)  # a far-off target moving closer counts
    assert d(10.0 + 1000) < 2 * d(10.0 + 100)  # ... but grows only logarithmically
    assert distance([_outcome(t.name, math.nan, 10.0, 1.0)], [t]) == pytest.approx(d(10.0 + Z_SOFT))


def _rates_with_escape(factor):
    from gistsim.clinic.pd import DrugRates

    evo = default_evolution()
    birth, death = evo.untreated_birth(REG), np.full(REG.n_genotypes, evo.death_rate_per_day)
    return evo, DrugRates(birth_rate_per_day=birth, death_rate_per_day=death, group_escape=factor)


def test_a_patients_escape_factor_scales_only_its_escape_net_growth():
    evo, rates = _rates_with_escape(np.array([1.0, 2.5, 0.0]))
    geno = np.arange(REG.n_genotypes)
    groups = [np.full(REG.n_genotypes, g) for g in range(3)]
    (b1, d1), (b2, d2), (b0, d0) = (rates.rates(g, geno) for g in groups)
    death = evo.death_rate_per_day
    esc = REG.bypass_carrier
    np.testing.assert_allclose(b1, evo.untreated_birth(REG)[None, :])  # factor 1: unchanged
    np.testing.assert_allclose(b2[0, ~esc], b1[0, ~esc])  # KIT-driven cells untouched
    np.testing.assert_allclose(b2[0, esc] - death, 2.5 * (b1[0, esc] - death))
    np.testing.assert_allclose(b0[0, esc], death)  # factor 0: escape cells do not grow
    np.testing.assert_allclose(d2, d1)


def test_escape_factors_are_drawn_after_the_pace_and_capped():
    from gistsim.clinic.cohort import draw_pace, draw_paces
    from gistsim.streams import PatientStreams, as_draws

    evo = default_evolution()
    evo.escape_relative_growth.value = 0.5
    evo.escape_growth_iiv_sigma_log.value = 1.5

    class Holder:
        n_patients = 400
        lesion_patient = np.arange(400)  # one lesion each (the secondary-mutant factor is per lesion)

    cohort = Holder()
    draw_paces(cohort, evo, as_draws(PatientStreams.from_ids(7, np.arange(400))))
    pace = draw_pace(400, evo.kinetics_iiv_sigma_log.value, as_draws(PatientStreams.from_ids(7, np.arange(400))))
    np.testing.assert_array_equal(cohort.kinetics_scale, pace)  # adding the escape draw leaves the pace alone
    assert cohort.escape_scale.max() == pytest.approx(2.0)  # 1 / relative growth: never outgrows KIT-driven cells
    # Median 1: the sample median of 400 normals has SE 1.2533/20 = 0.063, 0.094 on the log scale
    # at sigma 1.5; 4 SE (alpha ~ 6e-5). The cap at 2 is above the median, so it does not move it.
    assert abs(np.log(np.median(cohort.escape_scale))) < 4 * 0.094
    evo.escape_growth_iiv_sigma_log.value = 0.0
    draw_paces(cohort, evo, as_draws(PatientStreams.from_ids(7, np.arange(400))))
    assert cohort.escape_scale is None  # 1 for everyone
    assert cohort.kill_scale is None  # kill_iiv_sigma_log defaults to 0: 1 for everyone


def test_kill_factors_are_drawn_third_lognormal_with_median_one():
    from gistsim.clinic.cohort import PACE_Z_MAX, draw_paces
    from gistsim.streams import PatientStreams, as_draws

    evo = default_evolution()
    evo.kill_iiv_sigma_log.value = 0.8
    n = 4000

    class Holder:
        n_patients = n
        lesion_patient = np.arange(n)

    cohort = Holder()
    draw_paces(cohort, evo, as_draws(PatientStreams.from_ids(11, np.arange(n))))
    # The third normal of each patient's stream, independently of draw_paces.
    z = np.array([np.random.default_rng(np.random.SeedSequence([11, i])).standard_normal(3)[2] for i in range(n)])
    expected = np.exp(0.8 * np.clip(z, -PACE_Z_MAX, PACE_Z_MAX))
    np.testing.assert_allclose(cohort.kill_scale, expected, rtol=1e-12)
    # Median 1: the sample median of n normals has SE 1.2533 / sqrt(n) = 0.0198, 0.016 on the log
    # scale at sigma 0.8; 4 SE (alpha ~ 6e-5).
    assert abs(np.log(np.median(cohort.kill_scale))) < 4 * 0.016


def test_escape_and_burden_slowing_multiply_on_the_escape_net_growth():
    from gistsim.clinic.pd import DrugRates

    evo = default_evolution()
    birth, death = evo.untreated_birth(REG), np.full(REG.n_genotypes, evo.death_rate_per_day)
    rates = DrugRates(birth_rate_per_day=birth, death_rate_per_day=death,
                      group_escape=np.array([2.0]), group_growth=np.array([0.25]))  # fmt: skip
    b, _ = rates.rates(np.zeros(REG.n_genotypes, dtype=np.int64), np.arange(REG.n_genotypes))
    esc = REG.bypass_carrier
    np.testing.assert_allclose(b[0, esc] - death[esc], 0.5 * (birth[esc] - death[esc]))
    np.testing.assert_allclose(b[0, ~esc] - death[~esc], 0.25 * (birth[~esc] - death[~esc]))


def test_indolent_class_is_drawn_fourth_and_only_when_on():
    from gistsim.clinic.cohort import PACE_Z_MAX, draw_paces
    from gistsim.streams import PatientStreams, as_draws

    n = 4000

    class Holder:
        n_patients = n
        lesion_patient = np.arange(n)

    evo = default_evolution()
    evo.kinetics_iiv_sigma_log.value = 0.5
    off, on = Holder(), Holder()
    draw_paces(off, evo, as_draws(PatientStreams.from_ids(5, np.arange(n))))
    evo.indolent_fraction.value, evo.indolent_pace.value = 0.2, 0.16
    draw_paces(on, evo, as_draws(PatientStreams.from_ids(5, np.arange(n))))
    # Each patient's stream: three normals (pace, escape, kill), then the class's uniform.
    first = [np.random.default_rng(np.random.SeedSequence([5, i])) for i in range(n)]
    z = np.array([g.standard_normal(3)[0] for g in first])
    u = np.array([g.random() for g in first])
    pace = np.exp(0.5 * np.clip(z, -PACE_Z_MAX, PACE_Z_MAX))
    np.testing.assert_allclose(off.kinetics_scale, pace, rtol=1e-12)
    np.testing.assert_allclose(on.kinetics_scale, np.where(u < 0.2, 0.16, 1.0) * pace, rtol=1e-12)
    # The share: binomial SE sqrt(0.2 * 0.8 / 4000) = 0.0063; 4 SE (alpha ~ 6e-5).
    assert abs(np.mean(on.kinetics_scale < off.kinetics_scale) - 0.2) < 4 * 0.0063
