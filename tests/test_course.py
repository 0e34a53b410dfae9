"""The course loop: strategies act as declared, on constructed patients with known clones."""

import re

import numpy as np
import pytest

from gistsim.biology.genotypes import default_registry
from gistsim.biology.parameters import default_evolution
from gistsim.biology.volume import diameter_mm_to_cells
from gistsim.clinic.course import Cohort, simulate_course
from gistsim.clinic.parameters import default_clinic
from gistsim.clinic.reading import CR, PD, PR
from gistsim.clinic.strategy import ORGANS, load_strategy
from gistsim.clinic.treatment import Treatment
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import MutationModel

REG = default_registry()
EVO = default_evolution()
G = REG.n_genotypes
TREATMENT = Treatment()
LIVER = ORGANS.index("liver")


def cohort(n, lesions_mm, *, driver="KIT_exon11", resistant=None, seed=0):
    """n identical patients; each lesion purely of the driver genotype, except ``resistant``:
    {lesion index: (secondary mutation, cells)} added to every patient."""
    lesion_patient = np.repeat(np.arange(n), len(lesions_mm))
    cells = diameter_mm_to_cells(np.tile(lesions_mm, n), EVO.cells_per_cm3.value).round().astype(np.int64)
    base = REG.code(driver)
    lesion, geno, count = list(range(len(cells))), [base] * len(cells), list(cells)
    for j, (mutation, k) in (resistant or {}).items():
        for p in range(n):
            lesion.append(p * len(lesions_mm) + j)
            geno.append(REG.code(driver, [mutation]))
            count.append(k)
    table = CloneTable.from_arrays(
        lesion=lesion, group=lesion_patient[lesion], genotype=geno, count=count, n_genotypes=G
    )
    return Cohort(
        age_years=np.full(n, 60.0), driver=np.array([driver] * n, dtype=object), lesion_patient=lesion_patient,
        lesion_organ=np.full(len(lesion_patient), LIVER), lesion_site=["liver"] * len(lesion_patient),
        clones=table, pk=TREATMENT.sample_pk(n, np.random.default_rng(seed)),
    )


def run(coh, strategy, *, years=4.0, seed=1, mutation_rate=0.0, keep_clones=False, **clinic_changes):
    clinic = default_clinic()
    for path, value in clinic_changes.items():
        group, name = path.split("__")
        getattr(getattr(clinic, group), name).value = value
    return simulate_course(
        coh, load_strategy(strategy), treatment=TREATMENT, evolution=EVO, clinic=clinic,
        mutation=MutationModel.from_registry(REG, mutation_rate, escape_target_bp=2.0),
        untreated_birth=np.full(G, EVO.birth_rate_per_day.value), untreated_death=np.full(G, EVO.death_rate_per_day),
        horizon_days=years * 365.25, rng=np.random.default_rng(seed), keep_clones=keep_clones,
    )


def events(rec, kind):
    return [(p, d, s) for p, d, k, s in rec.events if k == kind]


NO_DEATH = dict(death__burden_hazard_per_year_at_reference=0.0, death__gompertz_rate_at_60_per_year=0.0,
                toxicity__discontinuation_per_year=0.0, seeding__rate_per_cell_per_day=0.0)  # fmt: skip


def test_sensitive_disease_responds_and_does_not_progress():
    # Noise-free imaging: with measurement error, a small nadir can read as +20% and +5 mm
    # (pseudo-progression), which is real but not what this test is about.
    rec = run(cohort(20, [30.0, 20.0]), "standard-sequence", imaging__measurement_cv=0.0, **NO_DEATH)
    recist = np.vstack(rec.recist[1:])
    assert not events(rec, "progression")
    assert np.isin(recist[-1], (PR, CR)).all()
    assert (rec.target_sum_mm[-1] < 0.7 * rec.target_sum_mm[0]).all()


def test_focal_resistance_is_resected_and_the_drug_continued():
    # Lesion 1 of every patient carries a D816 clone, resistant to imatinib (model_parameters §3a).
    coh = cohort(10, [30.0, 25.0, 20.0], resistant={1: ("D816", 10**6)})
    quiet = dict(imaging__measurement_cv=0.0, **NO_DEATH)
    rec = run(coh, "resect-focal-continue", years=6.0, surgery__perioperative_death_probability=0.0, **quiet)
    first_focal = {}
    for p, day, detail in sorted(events(rec, "focal_progression"), key=lambda e: e[1]):
        first_focal.setdefault(p, (day, detail))
    # Details name lesions by organ and number within the patient (lesion 1 of each), not by row.
    assert {p: d for p, (_, d) in first_focal.items()} == {p: "liver 1" for p in range(10)}
    first_prog = {}
    for p, day, detail in sorted(events(rec, "progression"), key=lambda e: e[1]):
        first_prog.setdefault(p, (day, detail))
    assert all(first_prog[p] == (first_focal[p][0], "focal") for p in range(10))
    surgeries = events(rec, "surgery")
    assert len(surgeries) >= 10 and all(d.startswith("hepatectomy ") for _, _, d in surgeries)
    first_surgery = {}
    for p, day, detail in sorted(surgeries, key=lambda e: e[1]):
        first_surgery.setdefault(p, detail)
    assert all(first_surgery[p] in ("hepatectomy 1:R0", "hepatectomy 1:R1") for p in range(10))
    # Imatinib continued: no line changed before or at the first focal progression.
    assert not [e for e in events(rec, "line_start") if 0 < e[1] <= first_focal[e[0]][0]]
    same = run(coh, "standard-sequence", years=6.0, **quiet)
    assert not events(same, "surgery")
    escalations = {p: d for p, day, d in events(same, "line_start") if day > 0 and d == "imatinib_800mg_daily"}
    assert len(escalations) == 10


def test_genotype_directed_starts():
    rec = run(cohort(3, [20.0], driver="KIT_exon9"), "standard-sequence", years=0.5, **NO_DEATH)
    assert {d for _, day, d in events(rec, "line_start") if day == 0} == {"imatinib_800mg_daily"}
    rec = run(cohort(3, [20.0], driver="PDGFRA_D842V"), "standard-sequence", years=0.5, **NO_DEATH)
    assert {d for _, day, d in events(rec, "line_start") if day == 0} == {"avapritinib_300mg_daily"}


def test_stop_after_one_year_then_restart_on_progression():
    rec = run(cohort(10, [30.0, 20.0]), "bfr14-stop-1y", years=10.0, imaging__measurement_cv=0.0, **NO_DEATH)
    stops = {p: d for p, d, _ in events(rec, "stop")}
    assert len(stops) == 10 and all(365.25 <= d <= 365.25 + 84 for d in stops.values())
    # Off drug the surviving sensitive cells regrow; progression restarts the same regimen.
    restarts = {p: (d, s) for p, d, s in events(rec, "restart")}
    assert len(restarts) >= 8
    assert all(d > stops[p] and s == "imatinib_400mg_daily" for p, (d, s) in restarts.items())
    off_drug = {p for p, _, s in events(rec, "progression") if s == "off_drug"}
    assert off_drug == set(restarts)


def test_residual_disease_resected_at_best_response():
    # Slow first-order resorption keeps these remnants visible; with the shipped surface law lesions of
    # 2-3 cm can vanish (a CR) before the plateau, leaving nothing to resect (the rule is the test).
    rec = run(cohort(10, [30.0, 25.0]), "resect-residual", years=3.0, imaging__resorption_exponent=1.0,
              imaging__necrosis_half_life_days=365.0,
              surgery__perioperative_death_probability=0.0, **NO_DEATH)  # fmt: skip
    res = events(rec, "residual_resection")
    assert len(res) == 10 and all(d >= 6 * 30.4 for _, d, _ in res)


def test_perioperative_death_and_burden_death():
    coh = cohort(10, [30.0, 25.0, 20.0], resistant={1: ("D816", 10**6)})
    changes = {**NO_DEATH, "surgery__perioperative_death_probability": 1.0}
    rec = run(coh, "resect-focal-continue", years=6.0, **changes)
    assert len(events(rec, "perioperative_death")) == 10
    assert np.isfinite(rec.death_day).all()
    big = {**NO_DEATH, "death__burden_hazard_per_year_at_reference": 1e6}
    rec = run(cohort(5, [30.0]), "standard-sequence", years=1.0, **big)
    assert len(events(rec, "death")) == 5 and (rec.death_day < 85).all()


def test_same_seed_same_course_other_seed_differs():
    coh = cohort(8, [30.0, 20.0], resistant={0: ("V654A", 10**5)})
    a = run(coh, "standard-sequence", years=3.0, seed=7, mutation_rate=1e-9)
    b = run(coh, "standard-sequence", years=3.0, seed=7, mutation_rate=1e-9)
    c = run(coh, "standard-sequence", years=3.0, seed=8, mutation_rate=1e-9)
    assert a.events == b.events
    np.testing.assert_array_equal(np.vstack(a.target_sum_mm), np.vstack(b.target_sum_mm))
    assert not np.array_equal(np.vstack(a.target_sum_mm), np.vstack(c.target_sum_mm))


@pytest.mark.parametrize("strategy", ["standard-sequence", "resect-focal-continue"])
def test_progression_is_read_as_pd(strategy):
    coh = cohort(6, [20.0], resistant={0: ("D816", 10**7)})
    rec = run(coh, strategy, years=4.0, **NO_DEATH)
    recist = np.vstack(rec.recist[1:])
    prog = events(rec, "progression")
    assert len({p for p, _, _ in prog}) == 6
    for p, day, _ in prog:
        v = rec.visit_day.index(day)
        assert recist[v - 1, p] == PD


@pytest.mark.parametrize("strategy,line_after", [("focal-switch-sunitinib", "sunitinib_50mg_4on2off"),
                                                 ("focal-continue", None)])  # fmt: skip
def test_other_actions_at_focal_progression(strategy, line_after):
    coh = cohort(8, [30.0, 25.0, 20.0], resistant={1: ("D816", 10**6)})
    rec = run(coh, strategy, years=5.0, imaging__measurement_cv=0.0, **NO_DEATH)
    first_focal = {}
    for p, day, detail in sorted(events(rec, "focal_progression"), key=lambda e: e[1]):
        first_focal.setdefault(p, (day, detail))
    assert {p: d for p, (_, d) in first_focal.items()} == {p: "liver 1" for p in range(8)}
    assert not events(rec, "surgery")
    at_focal = {p: d for p, day, d in events(rec, "line_start") if day > 0 and day == first_focal[p][0]}
    assert at_focal == ({p: line_after for p in range(8)} if line_after else {})


def _one(coh, k):
    """Patient k of a cohort, alone."""
    from gistsim.clinic.treatment import _subset

    les = np.flatnonzero(coh.lesion_patient == k)
    rows = np.isin(coh.clones.lesion, les)
    new_id = {int(x): i for i, x in enumerate(les)}
    clones = CloneTable.from_arrays(
        lesion=[new_id[int(x)] for x in coh.clones.lesion[rows]], group=np.zeros(rows.sum(), dtype=np.int64),
        genotype=coh.clones.genotype[rows], count=coh.clones.count[rows], n_genotypes=G,
    )
    return Cohort(
        age_years=coh.age_years[[k]], driver=coh.driver[[k]], lesion_patient=np.zeros(len(les), dtype=np.int64),
        lesion_organ=coh.lesion_organ[les], lesion_site=["liver"] * len(les), clones=clones,
        pk={d: _subset(p, np.array([k])) for d, p in coh.pk.items()},
    )


@pytest.mark.parametrize("strategy", ["resect-focal-continue", "standard-sequence"])
def test_with_patient_streams_a_course_does_not_depend_on_the_other_patients(strategy):
    from gistsim.streams import PatientStreams

    ids = np.array([11, 12, 13, 14, 15])
    coh = cohort(5, [30.0, 25.0, 15.0], resistant={1: ("D816", 10**6), 2: ("V654A", 10**4)})
    clinic = default_clinic()

    def simulate(c, pids):
        return simulate_course(
            c, load_strategy(strategy), treatment=TREATMENT, evolution=EVO, clinic=clinic,
            mutation=MutationModel.from_registry(REG, 1e-9, escape_target_bp=2.0),
            untreated_birth=np.full(G, EVO.birth_rate_per_day.value),
            untreated_death=np.full(G, EVO.death_rate_per_day), horizon_days=6 * 365.25,
            rng=PatientStreams.from_ids(2026, pids),
        )

    block = simulate(coh, ids)
    for k in (0, 3):
        alone = simulate(_one(coh, k), ids[[k]])
        # Lesion ids in event details are block-wide, so compare everything but the numbers.
        def shape(events):
            return [(d, kind, re.sub(r"\d+", "#", s)) for d, kind, s in events]

        assert shape([(d, kind, s) for p, d, kind, s in block.events if p == k]) == shape(
            [(d, kind, s) for _, d, kind, s in alone.events]
        )
        assert len([e for e in alone.events if e[2] == "surgery"]) >= (1 if strategy.startswith("resect") else 0)
        # Alone, the loop stops when the patient dies; the block goes on for the others.
        v = len(alone.visit_day)
        np.testing.assert_allclose([r[k] for r in block.target_sum_mm[:v]], [r[0] for r in alone.target_sum_mm])
        assert [r[k] for r in block.recist[:v]] == [r[0] for r in alone.recist]
        assert all(r[k] == -1 for r in block.recist[v:])  # dead in the block from then on


def test_complete_responses_accrue_as_the_scar_shrinks():
    # Sensitive lesions on imatinib, no mutation: every viable cell dies within years. With a
    # remnant that never shrinks (half-life 1e9 days) a 3-4 cm lesion keeps ~1 cm of scar and
    # cannot vanish; with a 6-month half-life the remnants fall below the detection limit (CR).
    coh = cohort(6, [40.0, 30.0])
    quick = run(coh, "standard-sequence", years=8.0, imaging__measurement_cv=0.0,
                imaging__scar_half_life_days=180.0, **NO_DEATH)  # fmt: skip
    never = run(coh, "standard-sequence", years=8.0, imaging__measurement_cv=0.0,
                imaging__scar_half_life_days=1e9, **NO_DEATH)  # fmt: skip
    assert (np.vstack(quick.recist[1:]) == CR).any(axis=0).all()
    assert not (np.vstack(never.recist[1:]) == CR).any()


@pytest.mark.parametrize("strategy", ["standard-sequence", "resect-focal-continue"])
def test_lesion_records_are_optional_and_forgetting_dead_lesions_changes_no_outcome(strategy):
    coh = cohort(6, [30.0, 20.0], resistant={0: ("V654A", 10**5)})

    def course(keep):
        return simulate_course(
            coh, load_strategy(strategy), treatment=TREATMENT, evolution=EVO, clinic=default_clinic(),
            mutation=MutationModel.from_registry(REG, 1e-9, escape_target_bp=2.0),
            untreated_birth=np.full(G, EVO.birth_rate_per_day.value), untreated_death=np.full(G, EVO.death_rate_per_day),
            horizon_days=6.0 * 365.25, rng=np.random.default_rng(3), keep_lesions=keep,
        )  # fmt: skip

    full, lean = course(True), course(False)
    assert full.lesion_measured_mm and not lean.lesion_measured_mm and not lean.lesion_true_mm
    # Without records, lesions that died unseen are forgotten (renumbering the rest): fewer
    # lesions held, the same course (lesion numbers in event details aside).
    assert len(lean.lesion_patient) < len(full.lesion_patient)

    def masked(rec):
        return [(p, d, k, re.sub(r"\d+", "#", str(s)) if k in ("focal_progression", "surgery") else s)
                for p, d, k, s in rec.events]  # fmt: skip

    assert masked(full) == masked(lean)
    np.testing.assert_array_equal(np.vstack(full.recist), np.vstack(lean.recist))
    np.testing.assert_array_equal(np.vstack(full.target_sum_mm), np.vstack(lean.target_sum_mm))


def test_microscopic_lesions_do_not_change_what_is_measured_of_the_visible_ones():
    # Measurement error is drawn for seen lesions only: adding unseen lesions to a patient must
    # not shift the numbers its visible lesions get.
    from gistsim.clinic import imaging
    from gistsim.streams import PatientStreams

    params = default_clinic().imaging
    visible = np.array([30.0, 12.0, 50.0])
    owner = np.array([0, 0, 1])
    a = imaging.measure_mm(visible, params, rng=PatientStreams.from_ids(4, np.arange(2)), owner=owner)
    with_tiny = np.array([30.0, 0.5, 12.0, 0.0, 50.0, 1.0])
    b = imaging.measure_mm(with_tiny, params, rng=PatientStreams.from_ids(4, np.arange(2)),
                           owner=np.array([0, 0, 0, 0, 1, 1]))  # fmt: skip
    assert np.isnan(b[[1, 3, 5]]).all()
    np.testing.assert_array_equal(b[[0, 2, 4]], a)


def _two_escapes(n, *, max_operations=None, reoperation_probability=1.0, seed=1):
    """n patients in whom lesion 1, then lesion 2 escape (D816 clones of 1e6 and 1e3 cells), under
    a strategy resecting focal progression: (operations, progressions, escalation day, records)."""
    coh = cohort(n, [30.0, 25.0, 20.0], resistant={1: ("D816", 10**6), 2: ("D816", 10**3)})
    raw = {"name": "x", "start": "imatinib_400mg_daily", "sequence": ["imatinib_800mg_daily"],
           "focal_progression": {"max_progressing_lesions": 1, "resectable_organs": ["liver"], "action": "resect",
                                 "max_operations": max_operations}}  # fmt: skip
    changes = dict(imaging__measurement_cv=0.0, surgery__r0_probability=1.0, **NO_DEATH)
    rec = run(coh, raw, years=8.0, seed=seed, surgery__perioperative_death_probability=0.0,
              surgery__reoperation_probability=reoperation_probability, **changes)  # fmt: skip
    ops, progressions = {}, {}
    for p, day, detail in events(rec, "surgery"):
        ops.setdefault(p, []).append((day, detail))
    for p, day, detail in events(rec, "progression"):
        progressions.setdefault(p, []).append((day, detail))
    escalated = {p: d for p, d, s in events(rec, "line_start") if s == "imatinib_800mg_daily"}
    return ops, progressions, escalated, rec


@pytest.mark.parametrize(("max_operations", "reoperation_probability"), [(None, 1.0), (1, 1.0), (None, 0.0)])
def test_focal_operations_can_be_limited(max_operations, reoperation_probability):
    ops, progressions, escalated, rec = _two_escapes(6, max_operations=max_operations,
                                                     reoperation_probability=reoperation_probability)  # fmt: skip
    # Lesion 1 escapes first in every patient and is resected.
    assert all(ops[p][0][1] == "hepatectomy 1:R0" for p in range(6))
    # Then lesion 2: resected again when the strategy allows it and the patient can be operated on
    # again; otherwise an ordinary progression (next regimen).
    second = {p: progressions[p][1] for p in range(6)}
    refusals = events(rec, "no_reoperation")
    declined = {p: d for p, d, _ in refusals}
    assert len(declined) == len(refusals)  # a refusal stands: never asked again
    if max_operations is None and reoperation_probability == 1.0:
        assert all(ops[p][1] == (second[p][0], "hepatectomy 2:R0") for p in range(6))
        assert not escalated and not declined
    else:
        assert all(len(ops[p]) == 1 for p in range(6))
        assert all(second[p] == (escalated[p], "imatinib_400mg_daily") for p in range(6))
        # The strategy's limit is not the clinic's refusal: only the latter is recorded as such.
        assert declined == ({} if max_operations == 1 else escalated)


@pytest.mark.parametrize("reoperation_probability", [0.3, 0.7])
def test_second_operations_happen_with_the_reoperation_probability(reoperation_probability):
    # Patients whose second progression is lesion 2 escaping alone are asked to be operated on
    # again; the number who are is Binomial(asked, p). alpha = 0.001 two-sided:
    # |k - asked p| <= 3.29 sqrt(asked p (1 - p)).
    n = 240
    ops, progressions, escalated, rec = _two_escapes(n, reoperation_probability=reoperation_probability, seed=7)
    declined = {p: d for p, d, _ in events(rec, "no_reoperation")}
    again = {p for p in range(n) if len(ops[p]) >= 2 and ops[p][1][0] == progressions[p][1][0]}
    refused = {p for p in range(n) if declined.get(p) == progressions[p][1][0]}
    asked = again | refused
    assert not again & refused and len(asked) >= 0.9 * n
    mean = len(asked) * reoperation_probability
    sd = (len(asked) * reoperation_probability * (1 - reoperation_probability)) ** 0.5
    assert abs(len(again) - mean) <= 3.29 * sd, (len(again), mean, sd)
    # Those refused moved to the next regimen at that progression and were never operated on again.
    assert all(escalated[p] == declined[p] for p in refused)
    assert all(len(ops[p]) == 1 for p in refused)
