"""One virtual patient: ``simulate_patient`` and the course it returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gistsim.biology.genotypes import default_registry
from gistsim.biology.parameters import EvolutionParameters, default_evolution
from gistsim.clinic.cohort import build_cohort
from gistsim.clinic.course import Records, simulate_course
from gistsim.clinic.parameters import ClinicParameters, default_clinic
from gistsim.clinic.reading import RESPONSE_NAMES
from gistsim.clinic.strategy import ORGANS, Strategy, load_strategy
from gistsim.clinic.treatment import Treatment
from gistsim.errors import check_choice, check_nonnegative

DAYS_PER_MONTH = 30.4375


@dataclass
class PatientCourse:
    """What happened to one patient."""

    events: list[dict[str, object]]
    """Dated events: ``{"day", "month", "kind", "detail"}`` (lines, progression, surgery, death, …)."""
    visit_day: np.ndarray
    """Visit days (0 = start of the first drug)."""
    recist: list[str]
    """RECIST 1.1 overall response per visit (``"baseline"`` at day 0, ``"-"`` after death)."""
    choi: list[str]
    """Choi response per visit."""
    regimen: list[str]
    """Regimen after each visit's decision (``"none"``: stopped, supportive care or dead)."""
    lesion_ids: np.ndarray
    """Lesions of this patient, numbered within it (0, 1, … in the order they appeared): the
    numbers event details use."""
    lesion_organ: list[str]
    """Organ of each lesion."""
    measured_mm: np.ndarray
    """Measured diameters, shape (visits, lesions); NaN where not seen."""
    true_mm: np.ndarray
    """True diameters of the imaged mass (viable + dead tissue), shape (visits, lesions)."""
    clones: list[dict[tuple[int, str], int]] = field(default_factory=list)
    """Per visit: (lesion number, genotype name) → cells."""
    death_day: float = float("inf")
    """Day of death, or inf if alive at the end."""

    @property
    def visit_month(self) -> np.ndarray:
        return self.visit_day / DAYS_PER_MONTH

    @classmethod
    def from_records(cls, rec: Records, patient: int, names: list[str]) -> PatientCourse:
        """Extract one patient from the records of a cohort run."""
        registry = default_registry()
        ids = np.flatnonzero(rec.lesion_patient == patient)
        n_visits = len(rec.visit_day)
        measured = np.full((n_visits, len(ids)), np.nan)
        true = np.zeros((n_visits, len(ids)))
        for v in range(n_visits):
            have = ids[ids < len(rec.lesion_measured_mm[v])]
            measured[v, : len(have)] = rec.lesion_measured_mm[v][have]
            true[v, : len(have)] = rec.lesion_true_mm[v][have]
        clones = []
        for table in rec.clones:
            mine = table.group == patient
            clones.append(
                {
                    (int(rec.lesion_label[les]), registry.name(int(g))): int(c)
                    for les, g, c in zip(table.lesion[mine], table.genotype[mine], table.count[mine])
                }
            )
        resp = [RESPONSE_NAMES[r[patient]] if r[patient] >= 0 else "-" for r in rec.recist]
        resp[0] = "baseline"
        choi = [RESPONSE_NAMES[r[patient]] if r[patient] >= 0 else "-" for r in rec.choi]
        choi[0] = "baseline"
        events = [
            {"day": d, "month": d / DAYS_PER_MONTH, "kind": k, "detail": s}
            for p, d, k, s in sorted(rec.events, key=lambda e: (e[1], e[0]))
            if p == patient
        ]
        return cls(
            events=events,
            visit_day=np.asarray(rec.visit_day),
            recist=resp,
            choi=choi,
            regimen=[names[r[patient]] if r[patient] >= 0 else "none" for r in rec.regimen],
            lesion_ids=rec.lesion_label[ids],
            lesion_organ=[ORGANS[o] for o in rec.lesion_organ[ids]],
            measured_mm=measured,
            true_mm=true,
            clones=clones,
            death_day=float(rec.death_day[patient]),
        )


def simulate_patient(
    *,
    lesions: list[dict[str, object]],
    driver: str = "KIT_exon11",
    age_years: float = 60.0,
    strategy: str | Strategy = "standard-sequence",
    years: float = 5.0,
    visit_days: float = 84.0,
    evolution: EvolutionParameters | None = None,
    clinic: ClinicParameters | None = None,
    rng: np.random.Generator | int | None = None,
) -> PatientCourse:
    """Grow one patient's lesions from founder cells, then follow the strategy for ``years``.

    ``lesions``: one mapping per lesion with ``organ`` (one of :data:`ORGANS`) and ``diameter_mm``
    at the start of treatment.

    >>> course = simulate_patient(lesions=[{"organ": "liver", "diameter_mm": 30}], years=1, rng=1)
    >>> course.recist[0]
    'baseline'
    """
    rng = np.random.default_rng(rng)
    registry = default_registry()
    check_choice("driver", driver, [d.name for d in registry.drivers])
    age = float(check_nonnegative("age_years", age_years))
    if not lesions:
        raise ValueError("lesions is empty: give at least one {'organ': ..., 'diameter_mm': ...}")
    organs, diam = [], []
    for i, les in enumerate(lesions):
        unknown = set(les) - {"organ", "diameter_mm"}
        if unknown:
            raise ValueError(f"lesions[{i}] has unknown keys {sorted(unknown)}; accepted keys: organ, diameter_mm")
        check_choice(f"lesions[{i}].organ", les.get("organ"), ORGANS)
        organs.append(ORGANS.index(str(les["organ"])))
        diam.append(float(check_nonnegative(f"lesions[{i}].diameter_mm", les.get("diameter_mm"), strictly_positive=True)))
    strategy = strategy if isinstance(strategy, Strategy) else load_strategy(strategy)
    evolution = evolution or default_evolution()
    clinic = clinic or default_clinic()
    treatment = Treatment()
    g = registry.n_genotypes
    birth = evolution.untreated_birth(registry)
    death = np.full(g, evolution.death_rate_per_day)
    mutation = evolution.mutation_model(registry)
    cohort = build_cohort(
        driver=np.array([driver], dtype=object), age_years=np.array([age]),
        lesion_patient=np.zeros(len(diam), dtype=np.int64), lesion_organ=np.array(organs),
        lesion_diameter_mm=np.array(diam), registry=registry, evolution=evolution, mutation=mutation,
        pk=treatment.sample_pk(1, rng), rng=rng,
    )
    rec = simulate_course(
        cohort, strategy, treatment=treatment, evolution=evolution, clinic=clinic, mutation=mutation,
        untreated_birth=birth, untreated_death=death, horizon_days=years * 365.25, visit_days=visit_days,
        keep_clones=True, rng=rng,
    )
    return PatientCourse.from_records(rec, 0, treatment.regimen_names)
