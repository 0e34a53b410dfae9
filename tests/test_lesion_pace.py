"""Each lesion's own pace (evolution.lesion_pace_sigma_log): rates, draws, and a course."""

import numpy as np
import pytest

from gistsim.biology.parameters import default_evolution
from gistsim.clinic import course as course_module
from gistsim.clinic.cohort import draw_paces
from gistsim.clinic.pd import DrugRates
from gistsim.streams import Draws, PatientStreams
from tests.test_course import EVO, NO_DEATH, REG, cohort, events, run


def test_a_lesions_factor_scales_its_untreated_rates_as_a_patients_does():
    """One patient, two lesions, factor 2 on the second: its clones get the rates of a patient
    whose pace is 2 (birth and untreated death doubled), the drug's kill unchanged."""
    base = REG.code("KIT_exon11")
    kw = {"birth_rate_per_day": 0.04, "death_rate_per_day": 0.03, "conc_ng_ml": np.array([[1500.0]]), "drug": "imatinib"}
    per_lesion = DrugRates(**kw, lesion_scale=np.array([1.0, 2.0]))
    per_patient = DrugRates(**kw, group_scale=np.array([2.0]))
    plain = DrugRates(**kw)
    group, genotype = np.zeros(2, dtype=np.int64), np.full(2, base)
    b, d = per_lesion.rates(group, genotype, np.array([0, 1]))
    b1, d1 = plain.rates(group[:1], genotype[:1])
    b2, d2 = per_patient.rates(group[:1], genotype[:1])
    np.testing.assert_allclose([b[0, 0], d[0, 0]], [b1[0, 0], d1[0, 0]])
    np.testing.assert_allclose([b[0, 1], d[0, 1]], [b2[0, 0], d2[0, 0]])
    assert d2[0, 0] - b2[0, 0] != pytest.approx(d1[0, 0] - b1[0, 0])  # the scale did something
    with pytest.raises(ValueError, match="lesion is None"):
        per_lesion.rates(group, genotype)
    with pytest.raises(ValueError, match="lesion_scale"):
        DrugRates(**kw, lesion_scale=np.array([1.0, -1.0]))


def test_lesion_paces_are_drawn_last_only_when_on_with_the_stated_spread():
    """Off: no factor and no draw. On: the patients' factors unchanged (drawn first, from the same
    streams) and log factors with mean 0 and SD σ (each within 4 standard errors)."""
    n = 1500
    coh = cohort(n, [30.0, 20.0, 10.0])
    def streams():
        return Draws(PatientStreams.from_ids(9, np.arange(n)))

    off = default_evolution()
    draw_paces(coh, off, streams())
    assert coh.lesion_scale is None
    patient = coh.kinetics_scale.copy()
    on = default_evolution()
    sigma = 0.4
    on.lesion_pace_sigma_log.value = sigma
    draw_paces(coh, on, streams())
    np.testing.assert_array_equal(coh.kinetics_scale, patient)
    z = np.log(coh.lesion_scale)
    assert len(z) == len(coh.lesion_patient)
    assert abs(z.mean()) < 4 * sigma / np.sqrt(len(z))
    assert abs(z.std() / sigma - 1) < 4 / np.sqrt(2 * len(z))


@pytest.mark.parametrize("factor", ["lesion_scale", "secondary_scale"])
def test_the_faster_lesion_escapes_first_and_is_resected(factor):
    """Two lesions with the same resistant clone escape together (a multifocal progression); with
    the second lesion 1.5 times faster (its whole pace, or only its secondary mutants' growth:
    evolution.secondary_growth_lesion_sigma_log's factor) it escapes first, alone, and is resected."""
    coh = cohort(6, [30.0, 30.0], resistant={0: ("D816", 10**6), 1: ("D816", 10**6)})
    quiet = dict(imaging__measurement_cv=0.0, surgery__perioperative_death_probability=0.0, **NO_DEATH)
    same = run(coh, "resect-focal-continue", years=6.0, **quiet)
    assert not events(same, "focal_progression") and len(events(same, "progression")) >= 6
    setattr(coh, factor, np.tile([1.0, 1.5], 6))
    faster = run(coh, "resect-focal-continue", years=6.0, **quiet)
    first = {}
    for p, day, detail in sorted(events(faster, "focal_progression"), key=lambda e: e[1]):
        first.setdefault(p, detail)
    assert first == {p: "liver 1" for p in range(6)}


@pytest.mark.parametrize("factor", ["lesion_scale", "lesion_secondary"])
def test_seeded_and_forgotten_lesions_keep_the_factors_aligned(monkeypatch, factor):
    """With seeding on, every step's rate model holds a factor for every lesion of the table."""
    coh = cohort(20, [40.0, 30.0, 20.0], seed=3)
    evo = _with_lesion_pace(0.4) if factor == "lesion_scale" else EVO.model_copy(deep=True)
    evo.secondary_growth_lesion_sigma_log.value = 0.0 if factor == "lesion_scale" else 0.5
    draw_paces(coh, evo, Draws(PatientStreams.from_ids(4, np.arange(20))))
    real = course_module._advance_by_structure
    checked, largest = [], []

    def check(table, structures, *args):
        for _, _, rates in structures:
            checked.append(len(getattr(rates, factor)) > table.lesion.max())
        largest.append(int(table.lesion.max()))
        return real(table, structures, *args)

    monkeypatch.setattr(course_module, "_advance_by_structure", check)
    run(coh, "standard-sequence", years=3.0, mutation_rate=1e-9, seeding__rate_per_cell_per_day=1e-9)
    assert checked and all(checked)
    assert max(largest) >= len(coh.lesion_patient)  # lesions were seeded


def _with_lesion_pace(sigma):
    evo = EVO.model_copy(deep=True)
    evo.lesion_pace_sigma_log.value = sigma
    return evo


def test_a_lesions_whole_pace_stays_below_three_standard_deviations():
    """Patient and lesion factors at the top of their clipped tails would multiply to ×67 at σ 0.9
    and 0.5; the whole pace is held at 3·√(σ_p² + σ_l²) on the log scale (×22), slow ones kept."""
    n = 4000
    coh = cohort(n, [30.0, 20.0, 10.0])
    evo = _with_lesion_pace(0.5)
    draw_paces(coh, evo, Draws(PatientStreams.from_ids(5, np.arange(n))))
    whole = np.log(coh.kinetics_scale[coh.lesion_patient] * coh.lesion_scale)
    limit = 3 * np.hypot(evo.kinetics_iiv_sigma_log.value, 0.5)
    assert whole.max() <= limit + 1e-12
    assert (whole > 0.8 * limit).any() and whole.min() < -0.8 * limit  # both tails reached, the low one kept


def test_a_trials_randomised_subcohort_keeps_each_lesions_factors():
    """The patients randomised in a trial are re-simulated as a sub-cohort; their lesions keep
    their own pace and secondary-mutant factors (the per-lesion arrays were once dropped there)."""

    coh = cohort(6, [30.0, 20.0, 10.0])
    coh.lesion_scale = np.arange(18) + 1.0
    coh.secondary_scale = np.arange(18) / 10.0 + 0.1
    sub = coh.subset(np.array([1, 4]))
    np.testing.assert_array_equal(sub.lesion_patient, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(sub.lesion_scale, [4.0, 5.0, 6.0, 13.0, 14.0, 15.0])
    np.testing.assert_allclose(sub.secondary_scale, [0.4, 0.5, 0.6, 1.3, 1.4, 1.5])
