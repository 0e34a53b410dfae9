"""The course of many patients at once, visit by visit: treatment, growth, imaging, decisions, death.

The order of one interval between two visits (every patient in lock-step):

1. Exposure: each patient's regimen (or none: stopped, paused after surgery, supportive care)
   gives birth and death rates per (patient, genotype) over the interval's pieces.
2. The engine advances every clone (:func:`gistsim.engine.step.advance`) and draws the seeds of
   new lesions founded during the interval by single cells and alive at its end.
3. Cells that died become dead tissue, which resorbs (imaging sees viable + dead tissue).
4. Seeding: a new lesion for each seed, unless its patient is dead or past the lethal volume.
5. Death: background (Gompertz), tumour-burden and failed-drug hazards; a patient who dies leaves
   the loop.
6. Toxicity: discontinuation (next line) and dose reduction of imatinib 800 mg.
7. The visit: every lesion measured with error, lesions below detection unseen; RECIST 1.1 and
   Choi read against the line's baseline.
8. Decisions by the strategy: at progression, restart a stopped drug, resect focally progressing
   lesions and continue, or move to the next regimen; otherwise resect residual disease at best
   response, or stop the drug after N years.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from gistsim.biology.parameters import EvolutionParameters
from gistsim.clinic import imaging
from gistsim.clinic.death import death_probability
from gistsim.clinic.decisions import decide, toxicity
from gistsim.clinic.parameters import ClinicParameters
from gistsim.clinic.reading import PD, Reader, rank_within
from gistsim.clinic.strategy import ORGANS, Strategy
from gistsim.clinic.tolerance import tolerance_step
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import MutationModel, RateModel
from gistsim.engine.seeding import Seeds
from gistsim.engine.step import advance
from gistsim.streams import PatientStreams, as_draws

__all__ = ["ORGANS", "Cohort", "Records", "TreatmentModel", "simulate_course"]


class TreatmentModel(Protocol):
    """Drugs as the course needs them (implemented in :mod:`gistsim.clinic.treatment`)."""

    regimen_names: list[str]

    def step_rates(
        self,
        regimen: np.ndarray,
        days_on_regimen: np.ndarray,
        off_days: np.ndarray,
        dt_days: float,
        pk: object,
        birth_per_day: np.ndarray,
        death_per_day: np.ndarray,
        *,
        group_scale: np.ndarray | None = None,
        group_growth: np.ndarray | None = None,
        lesion_scale: np.ndarray | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray, RateModel]]:
        """``(patients, piece durations, rate model)`` per piece structure for one interval.

        ``regimen[i] = -1`` means no drug; ``off_days[i]`` days at the start of the interval are
        off drug (surgical recovery); ``group_scale[i]`` multiplies patient i's untreated rates;
        ``group_growth[i]`` multiplies patient i's untreated net growth (see :func:`growth_factor`);
        ``lesion_scale[l]`` multiplies lesion l's untreated rates on top of its patient's.
        """
        ...


@dataclass
class Cohort:
    """Patients at the start of treatment: covariates, lesions and their clones."""

    age_years: np.ndarray
    """Age per patient."""
    driver: np.ndarray
    """Driver name per patient (object array of str)."""
    lesion_patient: np.ndarray
    """Patient of each lesion."""
    lesion_organ: np.ndarray
    """Organ of each lesion, an index into :data:`ORGANS`."""
    lesion_site: list[str]
    """Free-text site per lesion (e.g. ``"liver, left lobe"``)."""
    clones: CloneTable
    """Clones; lesion ids index the lesion arrays, groups are patient indices."""
    pk: object
    """Per-patient pharmacokinetic parameters, as the treatment model wants them."""
    kinetics_scale: np.ndarray | None = None
    """Per patient, a factor on its tumour's untreated birth and death rates (the pace of its
    disease; ``None``: 1 for everyone). It leaves d/b, hence the pre-treatment history, unchanged."""
    escape_scale: np.ndarray | None = None
    """Per patient, a factor on the untreated net growth of its KIT-independent cells
    (``None``: 1 for everyone); like ``kinetics_scale``, not applied to the pre-treatment history."""
    lesion_scale: np.ndarray | None = None
    """Per lesion, a factor on its untreated birth and death rates on top of its patient's pace
    (``evolution.lesion_pace_sigma_log``; ``None``: 1 everywhere). Lesions seeded during the
    course inherit their founder's lesion's factor."""
    kill_scale: np.ndarray | None = None
    """Per patient, a factor on every drug's kill rate (its tumour's sensitivity at a given
    exposure; ``None``: 1 for everyone)."""
    host_scale: np.ndarray | None = None
    """Per patient, a factor on the host's kill while on a drug that has one
    (``potency.host_kill_per_day``; ``None``: 1 for everyone)."""
    primary_site: np.ndarray | None = None
    """Site of the primary tumour per patient (object array of str; ``None``: not drawn)."""
    sex: np.ndarray | None = None
    """``"male"`` or ``"female"`` per patient (``None``: not drawn)."""
    secondary_scale: np.ndarray | None = None
    """Per lesion, a factor on the untreated net growth of its cells with a secondary KIT
    mutation (its patient's factor times its own; ``None``: 1 everywhere); like ``escape_scale``,
    not applied to the pre-treatment history. Lesions seeded during the course inherit their
    founder's lesion's factor."""

    @property
    def n_patients(self) -> int:
        return len(self.age_years)

    def subset(self, chosen: np.ndarray) -> Cohort:
        """The cohort restricted to the patients ``chosen``, renumbered 0..k-1 (clones, lesions and PK)."""
        from gistsim.clinic.treatment import _subset  # treatment imports this module

        keep_les, lesion_patient, clones = patients_rows(chosen, len(self.age_years), self.lesion_patient, self.clones)
        return Cohort(
            age_years=self.age_years[chosen], driver=self.driver[chosen],
            lesion_patient=lesion_patient, lesion_organ=self.lesion_organ[keep_les],
            lesion_site=[self.lesion_site[i] for i in keep_les], clones=clones,
            pk={d: _subset(p, chosen) for d, p in self.pk.items()},
            kinetics_scale=None if self.kinetics_scale is None else self.kinetics_scale[chosen],
            escape_scale=None if self.escape_scale is None else self.escape_scale[chosen],
            kill_scale=None if self.kill_scale is None else self.kill_scale[chosen],
            host_scale=None if self.host_scale is None else self.host_scale[chosen],
            lesion_scale=None if self.lesion_scale is None else self.lesion_scale[keep_les],
            secondary_scale=None if self.secondary_scale is None else self.secondary_scale[keep_les],
            primary_site=None if self.primary_site is None else self.primary_site[chosen],
            sex=None if self.sex is None else self.sex[chosen],
        )  # fmt: skip


def patients_rows(
    patients: np.ndarray, n_patients: int, lesion_patient: np.ndarray, table: CloneTable
) -> tuple[np.ndarray, np.ndarray, CloneTable]:
    """``patients`` renumbered 0..k-1 in that order: their lesions' indices (in lesion order), those
    lesions' new patient numbers, and the clone table of those lesions, renumbered 0..m-1 in the
    same order (so still sorted by lesion and genotype), its groups the new patient numbers."""
    new_of = np.full(n_patients, -1)
    new_of[patients] = np.arange(len(patients))
    lesions = np.flatnonzero(new_of[lesion_patient] >= 0)
    les_new = np.full(len(lesion_patient), -1)
    les_new[lesions] = np.arange(len(lesions))
    clones = table.rows(les_new[table.lesion] >= 0)
    clones.lesion, clones.group = les_new[clones.lesion], new_of[clones.group]
    return lesions, new_of[lesion_patient[lesions]], clones


@dataclass
class Records:
    """What happened to every patient: visits, readings, events."""

    visit_day: list[float] = field(default_factory=list)
    recist: list[np.ndarray] = field(default_factory=list)
    choi: list[np.ndarray] = field(default_factory=list)
    target_sum_mm: list[np.ndarray] = field(default_factory=list)
    regimen: list[np.ndarray] = field(default_factory=list)
    lesion_measured_mm: list[np.ndarray] = field(default_factory=list)
    lesion_true_mm: list[np.ndarray] = field(default_factory=list)
    lesion_hu: list[np.ndarray] = field(default_factory=list)
    visible_lesions: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    """With ``record_lesions``, per visit the lesions imaging saw: (patient, lesion number within
    the patient, organ, measured mm, true mm, HU), a few rows per patient where the per-lesion
    arrays above hold every microscopic lesion."""
    clones: list[CloneTable] = field(default_factory=list)
    events: list[tuple[int, float, str, str]] = field(default_factory=list)
    """(patient, day, kind, detail); kinds: line_start, progression, focal_progression, surgery,
    restart, stop, dose_reduction, discontinuation, death, perioperative_death."""
    death_day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Day of death, +inf if alive at the horizon."""
    secondary_at_progression: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Number of different secondary KIT mutations found at the first progression, sequencing the
    patient's ``clinic.pathology.lesions_sampled`` largest lesions (a clone counts from
    ``clinic.pathology.secondary_detection_fraction`` of its lesion's viable cells); -1 without
    progression."""
    lesion_patient: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lesion_organ: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lesion_label: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per lesion row: its number within its patient (0, 1, … in the order lesions appeared), as
    event details name it."""

    def add_event(self, patients: np.ndarray, day: float | np.ndarray, kind: str, detail: list[str] | str = "") -> None:
        # Called a dozen times per visit, mostly for no patient: lists, not numpy broadcasting.
        n = len(patients)
        if n == 0:
            return
        pats = np.asarray(patients, dtype=np.int64).tolist()
        days = [float(day)] * n if np.ndim(day) == 0 else np.broadcast_to(np.asarray(day, dtype=float), (n,)).tolist()
        details = detail if isinstance(detail, list) else [detail] * n
        self.events.extend(zip(pats, days, [kind] * n, details))


@dataclass
class _State:
    driver: np.ndarray
    regimen: np.ndarray
    nominal: np.ndarray
    line: np.ndarray
    regimen_start: np.ndarray
    first_start: np.ndarray
    stopped: np.ndarray
    off_until: np.ndarray
    alive: np.ndarray
    necrotic: np.ndarray
    scar: np.ndarray
    removed: np.ndarray
    plateau: np.ndarray
    last_sum: np.ndarray
    intolerant: np.ndarray
    resected_residual: np.ndarray
    stopped_once: np.ndarray
    focal_operations: np.ndarray
    inoperable: np.ndarray  # refused a repeat operation: not asked again
    tolerance: np.ndarray
    failed_drugs: np.ndarray  # (patient, ``drug_code``): the disease has progressed on that drug
    pending: np.ndarray  # regimen index a patient waits for (not yet available; ``available_from_years``), or -1
    # Per lesion: its number within its patient (0, 1, … in the order lesions appeared), the number
    # event details use; row indices of the lesion arrays shift as dead lesions are dropped and
    # depend on which other patients share the block.
    lesion_label: np.ndarray
    lesions_made: np.ndarray  # per patient: lesions numbered so far
    lesion_scale: np.ndarray | None = None
    lesion_secondary: np.ndarray | None = None


def simulate_course(
    cohort: Cohort,
    strategy: Strategy,
    *,
    treatment: TreatmentModel,
    evolution: EvolutionParameters,
    clinic: ClinicParameters,
    mutation: MutationModel,
    untreated_birth: np.ndarray,
    untreated_death: np.ndarray,
    horizon_days: float,
    visit_days: float = 84.0,
    keep_clones: bool = False,
    keep_lesions: bool = True,
    record_lesions: bool = False,
    rng: np.random.Generator | PatientStreams,
    snapshots: list | None = None,
    exposure_cache: dict | None = None,
) -> Records:
    """Follow every patient of ``cohort`` under ``strategy`` until death or ``horizon_days``.

    ``rng``: one generator for the block, or :class:`~gistsim.streams.PatientStreams` indexed by
    patient (then a patient's course depends only on its own stream and state).
    ``keep_lesions=False`` leaves out the per-lesion measurements of every visit (the records a
    patient's figures need, not a trial's rows): seeded microscopic lesions make those arrays grow
    to tens of times the visible lesions, the bulk of a block's memory. ``record_lesions`` keeps,
    whatever ``keep_lesions``, the lesions imaging saw at each visit (``Records.visible_lesions``).
    ``snapshots``: a list to which every visit appends the state of the patients whose first
    progression it reads, taken before the strategy decides (:class:`gistsim.clinic.lanes.Joiners`;
    :func:`gistsim.clinic.lanes.continue_courses` takes them on under other strategies).
    ``exposure_cache``: a dict for the drugs' exposures, which those courses can share (it holds
    every patient's rows of the cohort's PK).
    """
    course = _Course.start(
        cohort, strategy, treatment=treatment, evolution=evolution, clinic=clinic, mutation=mutation,
        untreated_birth=untreated_birth, untreated_death=untreated_death, keep_clones=keep_clones, keep_lesions=keep_lesions, draws=as_draws(rng), exposure_cache=exposure_cache,
        record_lesions=record_lesions,
    )  # fmt: skip
    while course.day + 1e-9 < horizon_days and course.st.alive.any():
        measured, hu, reading, first_pd = course.interval(min(visit_days, horizon_days - course.day))
        if snapshots is not None and first_pd.any():
            snapshots.append(course.take(np.flatnonzero(first_pd), measured, hu, reading))
        course.decide(measured, hu, reading)
    return course.finish()


class _Course:
    """The state of many patients' courses between visits, and the steps of one interval."""

    @classmethod
    def start(cls, cohort: Cohort, strategy: Strategy, *, treatment, evolution, clinic, mutation, untreated_birth,
              untreated_death, keep_clones, keep_lesions, draws, exposure_cache=None,
              record_lesions=False) -> _Course:  # fmt: skip
        """Every patient of ``cohort`` at day 0, its baseline scan read."""
        self = cls(strategy, treatment, evolution, clinic, mutation, untreated_birth, untreated_death,
                   keep_clones, keep_lesions, draws, exposure_cache, record_lesions)  # fmt: skip
        n = cohort.n_patients
        self.table = cohort.clones.copy()
        self.lesion_patient = cohort.lesion_patient.astype(np.int64).copy()
        self.lesion_organ = cohort.lesion_organ.astype(np.int64).copy()
        self.age_years = np.asarray(cohort.age_years, dtype=float)
        self.kinetics_scale, self.escape_scale = cohort.kinetics_scale, cohort.escape_scale
        self.kill_scale, self.host_scale, self.pk = cohort.kill_scale, cohort.host_scale, cohort.pk
        names = self.names
        first = np.array([names.index(strategy.first_regimen(str(d))) for d in cohort.driver], dtype=np.int64)
        lesion_patient = self.lesion_patient
        self.st = _State(
            driver=np.asarray(cohort.driver, dtype=object),
            regimen=first,
            nominal=first.copy(),
            line=np.ones(n, dtype=np.int64),
            regimen_start=np.zeros(n),
            first_start=np.zeros(n),
            stopped=np.zeros(n, dtype=bool),
            off_until=np.zeros(n),
            alive=np.ones(n, dtype=bool),
            necrotic=np.zeros(len(lesion_patient)),
            scar=np.zeros(len(lesion_patient)),
            removed=np.zeros(len(lesion_patient), dtype=bool),
            plateau=np.zeros(n, dtype=np.int64),
            last_sum=np.zeros(n),
            intolerant=np.zeros(n, dtype=bool),
            resected_residual=np.zeros(n, dtype=bool),
            stopped_once=np.zeros(n, dtype=bool),
            focal_operations=np.zeros(n, dtype=np.int64),
            inoperable=np.zeros(n, dtype=bool),
            tolerance=np.zeros(n),
            failed_drugs=np.zeros((n, self.drug_code.max() + 1), dtype=bool),
            pending=np.full(n, -1, dtype=np.int64),
            lesion_label=_numbers_within(lesion_patient),
            lesions_made=np.bincount(lesion_patient, minlength=n).astype(np.int64),
            lesion_scale=None if cohort.lesion_scale is None else np.asarray(cohort.lesion_scale, dtype=float).copy(),
            lesion_secondary=None if cohort.secondary_scale is None else np.asarray(cohort.secondary_scale, dtype=float).copy(),
        )  # fmt: skip
        self._set_floor()
        self.rec = Records(death_day=np.full(n, np.inf), secondary_at_progression=np.full(n, -1, dtype=np.int64))
        self.reader = Reader(n)
        pats = np.arange(n)
        self.rec.add_event(pats, 0.0, "line_start", [names[r] for r in first])
        measured, hu = self.look(0.0)
        self.reader.set_baseline(pats, lesion_patient, self.lesion_organ, measured, hu)
        self.st.last_sum = self.reader.baseline_sum.copy()
        self.rec.recist.append(np.full(n, -1))
        self.rec.choi.append(np.full(n, -1))
        self.rec.target_sum_mm.append(self.reader.baseline_sum.copy())
        self.rec.regimen.append(self.st.regimen.copy())
        return self

    def __init__(self, strategy, treatment, evolution, clinic, mutation, untreated_birth, untreated_death,
                 keep_clones=False, keep_lesions=True, draws=None, exposure_cache=None,
                 record_lesions=False) -> None:  # fmt: skip
        self.strategy, self.treatment, self.evolution, self.clinic = strategy, treatment, evolution, clinic
        self.mutation, self.untreated_birth, self.untreated_death = mutation, untreated_birth, untreated_death
        self.keep_clones, self.keep_lesions, self.draws = keep_clones, keep_lesions, draws
        self.density = evolution.cells_per_cm3.value
        self.names = treatment.regimen_names
        self.drug_code = np.unique([r.drug for r in treatment.regimens], return_inverse=True)[1].astype(np.int64)
        self.slowing = evolution.kill_slowing_exponent.value
        self.lethal_cells = clinic.death.lethal_volume_cm3.value * self.density
        self.exposure_cache: dict = {} if exposure_cache is None else exposure_cache
        self.pk_rows: np.ndarray | None = None
        self.record_lesions = record_lesions
        self.day = 0.0

    def _set_floor(self) -> None:
        ev = self.evolution
        self.floor = np.where(self.st.driver == "wild_type", ev.tolerance_kill_floor_wild_type.value,
                              ev.tolerance_kill_floor.value)  # fmt: skip
        self.tolerant = bool((self.floor < 1.0).any())

    @property
    def n(self) -> int:
        return len(self.st.alive)

    def viable_per_lesion(self) -> np.ndarray:
        out = np.zeros(len(self.lesion_patient))
        ids, tot = self.table.lesion_totals()
        out[ids] = tot
        return out

    def look(self, day: float) -> tuple[np.ndarray, np.ndarray]:
        st, rec, clinic = self.st, self.rec, self.clinic
        viable = self.viable_per_lesion()
        true_mm = imaging.true_diameter_mm(viable, st.necrotic + st.scar, self.density)
        measured = imaging.measure_mm(true_mm, clinic.imaging, rng=self.draws, owner=self.lesion_patient)
        gone = st.removed | ~st.alive[self.lesion_patient]
        measured[gone] = np.nan
        hu = imaging.attenuation_hu(viable, st.necrotic + st.scar, clinic.imaging)
        rec.visit_day.append(day)
        if self.record_lesions:
            seen = np.flatnonzero(np.isfinite(measured))
            rec.visible_lesions.append((self.lesion_patient[seen], st.lesion_label[seen], self.lesion_organ[seen],
                                        measured[seen], true_mm[seen], hu[seen]))  # fmt: skip
        if self.keep_lesions:
            rec.lesion_measured_mm.append(measured)
            rec.lesion_true_mm.append(np.where(gone, 0.0, true_mm))
            rec.lesion_hu.append(hu)
        if self.keep_clones:
            rec.clones.append(self.table.copy())
        return measured, hu

    def interval(self, dt: float):
        """Steps 1–7 of the module's list over the next ``dt`` days: ``(measured, hu, reading,
        first_pd)`` of the visit at its end, before any decision."""
        st, rec, clinic, evolution, draws, n = self.st, self.rec, self.clinic, self.evolution, self.draws, self.n
        day, density = self.day, self.density
        on = st.alive & (st.regimen >= 0) & ~st.stopped
        regimen = np.where(on, st.regimen, -1)
        off_days = np.clip(st.off_until - day, 0.0, dt)
        before = self.viable_per_lesion()
        burden_before = np.bincount(self.lesion_patient, weights=before, minlength=n)
        group_kill = self.kill_scale
        growth = growth_factor(burden_before / density, evolution.growth_half_volume_cm3.value)
        if self.slowing > 0:
            group_kill = growth**self.slowing if group_kill is None else group_kill * growth**self.slowing
        if self.tolerant:
            factor, st.tolerance = tolerance_step(
                st.tolerance, on, off_days, dt, evolution.tolerance_rate_per_day.value, self.floor
            )
            group_kill = factor if group_kill is None else group_kill * factor
        structures = self.treatment.step_rates(
            regimen, day - st.regimen_start, off_days, dt, self.pk, self.untreated_birth, self.untreated_death,
            group_scale=self.kinetics_scale, group_escape=self.escape_scale,
            lesion_secondary=st.lesion_secondary, group_kill=group_kill, group_host=self.host_scale,
            group_growth=growth,
            lesion_scale=st.lesion_scale, exposure_cache=self.exposure_cache, pk_rows=self.pk_rows,
        )  # fmt: skip
        self.table, seeds = _advance_by_structure(
            self.table, structures, self.mutation, draws, clinic.seeding.rate_per_cell_per_day.value, self.lethal_cells
        )
        after = self.viable_per_lesion()
        # Cells lost become dead tissue: a scar share resorbs slowly, the rest faster (from mid-interval).
        lost = np.maximum(before - after, 0.0)
        scar = clinic.imaging.scar_fraction.value
        half_life = clinic.imaging.necrosis_half_life_days.value
        scar_half_life = clinic.imaging.scar_half_life_days.value
        law = dict(exponent=clinic.imaging.resorption_exponent.value,
                   reference_cells=imaging.RESORPTION_REFERENCE_CM3 * density)  # fmt: skip
        # Lost cells join at mid-interval, into one remnant per lesion: resorption of a sum is not
        # the sum of resorptions unless the law is first-order.
        half = dt / 2
        st.necrotic = imaging.resorb(
            imaging.resorb(st.necrotic, half, half_life, **law) + (1 - scar) * lost, half, half_life, **law
        )
        st.scar = imaging.resorb(
            imaging.resorb(st.scar, half, scar_half_life, **law) + scar * lost, half, scar_half_life, **law
        )
        self.lesion_patient, self.lesion_organ = _seed(
            self.table, seeds, self.lesion_patient, self.lesion_organ, after, st, self.lethal_cells
        )
        # Death over the interval.
        burden_after = np.bincount(self.lesion_patient, weights=self.viable_per_lesion(), minlength=n)
        age = self.age_years + day / 365.25
        failures = st.failed_drugs.sum(axis=1)
        p_death = death_probability(age, burden_before, burden_after, dt, clinic.death, density, failures)
        dies = st.alive & (draws.random(np.arange(n)) < p_death)
        if dies.any():
            when = day + draws.random(np.flatnonzero(dies)) * dt
            _kill(np.flatnonzero(dies), when, "death", st, rec, self.table)
        self.day = day = day + dt
        # Toxicity while on drug.
        toxicity(st, on & st.alive, dt, day, self.names, clinic, rec, draws)
        measured, hu = self.look(day)
        reading = self.reader.read(self.lesion_patient, measured, hu)
        reading.recist[~st.alive] = -1
        reading.choi[~st.alive] = -1
        first_pd = (reading.recist == PD) & (rec.secondary_at_progression < 0)
        if first_pd.any():
            pathology = clinic.pathology
            # A patient's count depends on its own clones only: sequence just the patients asking.
            found = secondary_found(
                self.table.rows(first_pd[self.table.group]), pathology.secondary_detection_fraction.value, n,
                int(round(pathology.lesions_sampled.value)),
            )  # fmt: skip
            rec.secondary_at_progression[first_pd] = found[first_pd]
        return measured, hu, reading, first_pd

    def decide(self, measured: np.ndarray, hu: np.ndarray, reading) -> None:
        """Step 8 (the strategy's decisions) and the visit's records."""
        st, rec = self.st, self.rec
        decide(
            self.day, reading, measured, hu, self.strategy, self.names, st, rec, self.reader, self.table,
            self.lesion_patient, self.lesion_organ, self.clinic, self.draws, self.drug_code,
        )  # fmt: skip
        rec.recist.append(reading.recist)
        rec.choi.append(reading.choi)
        rec.target_sum_mm.append(reading.target_sum_mm)
        rec.regimen.append(np.where(st.alive & ~st.stopped, st.regimen, -1))
        if not self.keep_lesions and not self.keep_clones:
            self.lesion_patient, self.lesion_organ = _drop_dead_lesions(
                self.table, self.viable_per_lesion(), self.lesion_patient, self.lesion_organ, st, self.reader
            )

    def take(self, patients: np.ndarray, measured: np.ndarray, hu: np.ndarray, reading) -> object:
        """:func:`gistsim.clinic.lanes.take` of ``patients``, between the interval and the decisions."""
        from gistsim.clinic.lanes import take

        return take(self, patients, measured, hu, reading)

    def finish(self) -> Records:
        rec = self.rec
        rec.lesion_patient = self.lesion_patient
        rec.lesion_organ = self.lesion_organ
        rec.lesion_label = self.st.lesion_label
        return rec


def _numbers_within(owner: np.ndarray) -> np.ndarray:
    """0, 1, … for each owner's entries, in their order."""
    order = np.argsort(owner, kind="stable")
    sorted_owner = owner[order]
    start = np.searchsorted(sorted_owner, sorted_owner, side="left")
    out = np.empty(len(owner), dtype=np.int64)
    out[order] = np.arange(len(owner)) - start
    return out


def secondary_found(
    table: CloneTable, fraction: float, n_patients: int, lesions_sampled: int | None = None
) -> np.ndarray:
    """Per patient, how many different secondary KIT mutations sequencing its lesions finds.

    With ``lesions_sampled``, only each patient's that many largest lesions (by cells) are
    sequenced, as a surgeon debulking progressing disease samples the bulky ones; ties go to the
    lower lesion id. Without it every lesion is.
    """
    from gistsim.biology.genotypes import default_registry

    if lesions_sampled is not None and lesions_sampled < 1:
        raise ValueError(f"clinic.pathology.lesions_sampled = {lesions_sampled} is not accepted: sequence at least 1 lesion")
    mask = default_registry().kit_secondary_mask.astype(np.int64)
    out = np.zeros(n_patients, dtype=np.int64)
    if len(table) == 0:
        return out
    ids, tot = table.lesion_totals()
    n_lesions = int(table.lesion.max()) + 1
    lesion_total = np.zeros(n_lesions)
    lesion_total[ids] = tot
    share = table.count / np.maximum(lesion_total[table.lesion], 1.0)
    hit = (share >= fraction) & (table.count > 0) & (mask[table.genotype] != 0)
    if lesions_sampled is not None:
        # Largest first within each patient (ties: lower lesion id), as the reader picks targets.
        patient = table.group[np.searchsorted(table.lesion, ids)]
        order = np.lexsort((ids, -tot, patient))
        sampled = np.zeros(n_lesions, dtype=bool)
        sampled[ids[order[rank_within(patient[order]) < lesions_sampled]]] = True
        hit &= sampled[table.lesion]
    bits = np.zeros(n_patients, dtype=np.int64)
    np.bitwise_or.at(bits, table.group[hit], mask[table.genotype[hit]])
    for k in range(int(mask.max()).bit_length()):
        out += (bits >> k) & 1
    return out


def growth_factor(viable_cm3: np.ndarray, half_volume_cm3: float) -> np.ndarray:
    """Factor on the untreated net growth of a patient with ``viable_cm3`` of viable tumour.

    ``1 / (1 + V / V½)``: growth slows as the burden grows (Gompertz-like deceleration; Laird, Br J
    Cancer 1964;18:490; Norton, Cancer Res 1988;48:7067), evaluated at each step's start, so rates
    stay constant within a step (DESIGN §3). It is what lets resistant disease grow fast while small
    (progression after 1–2 years) and slowly once large (years of survival after progression).
    The drug's kill is multiplied by this factor to the power ``evolution.kill_slowing_exponent``
    (0: a kill independent of size; 1: Norton–Simon, the kill slowed as the growth is).
    """
    return 1.0 / (1.0 + np.asarray(viable_cm3, dtype=float) / half_volume_cm3)


def _advance_by_structure(
    table: CloneTable, structures, mutation: MutationModel, draws, seeding_rate: float, seeding_max_cells: float
) -> tuple[CloneTable, Seeds]:
    """Advance each piece structure's patients on their own pieces; one table back, sorted, and the
    seeds of new lesions alive at the step's end, ordered by founder (lesion, genotype).
    Patients past ``seeding_max_cells`` at the step's end draw no seeds (they die in it)."""
    seed_kw = dict(seeding_rate=seeding_rate, seeding_max_cells=seeding_max_cells)
    if len(structures) == 1:
        report = advance(table, structures[0][1], structures[0][2], mutation, rng=draws, **seed_kw)
        return table, report.seeds
    parts, seeds = [], []
    for patients, durations, rates in structures:
        sub = table.rows(np.isin(table.group, patients))
        seeds.append(advance(sub, durations, rates, mutation, rng=draws, **seed_kw).seeds)
        parts.append(sub)
    lesion = np.concatenate([p.lesion for p in parts])
    genotype = np.concatenate([p.genotype for p in parts])
    order = np.argsort(lesion * table.n_genotypes + genotype, kind="stable")
    merged = CloneTable(
        lesion[order], np.concatenate([p.group for p in parts])[order], genotype[order],
        np.concatenate([p.count for p in parts])[order], table.n_genotypes,
    )  # fmt: skip
    fields = {f: np.concatenate([getattr(s, f) for s in seeds]) for f in ("lesion", "group", "genotype", "size")}
    order = np.argsort(fields["lesion"] * table.n_genotypes + fields["genotype"], kind="stable")
    return merged, Seeds(**{f: v[order] for f, v in fields.items()})


def _kill(patients: np.ndarray, day: np.ndarray | float, kind: str, st: _State, rec: Records, table: CloneTable) -> None:
    st.alive[patients] = False
    rec.death_day[patients] = day
    rec.add_event(patients, day, kind)
    dead = ~st.alive[table.group]
    if dead.any():
        table.count[dead] = 0
        table.compact()


def _drop_dead_lesions(table: CloneTable, viable: np.ndarray, lesion_patient, lesion_organ, st: _State, reader: Reader):
    """Forget lesions that hold no cell, no dead tissue worth a cell, and are not known to the reader
    (or were resected): the ~40 microscopic lesions a bulky patient seeds per interval mostly die out
    at once, and every per-lesion array (imaging, reading, dead tissue) would otherwise grow with
    them for the rest of the course. Lesions are renumbered in order, so the clone table stays
    sorted and no draw changes; event details name lesions by their number within the patient
    (``st.lesion_label``), which does not change. Done when at
    least half the lesions can go, so each lesion is copied O(1) times on average.
    """
    n_l = len(lesion_patient)
    keep = (viable > 0) | (st.necrotic + st.scar >= 1.0) | (reader.known(n_l) & ~st.removed)
    if keep.sum() > n_l // 2:
        return lesion_patient, lesion_organ
    new_id = np.cumsum(keep) - 1
    table.lesion = new_id[table.lesion]
    st.necrotic, st.scar, st.removed = st.necrotic[keep], st.scar[keep], st.removed[keep]
    st.lesion_label = st.lesion_label[keep]
    if st.lesion_scale is not None:
        st.lesion_scale = st.lesion_scale[keep]
    if st.lesion_secondary is not None:
        st.lesion_secondary = st.lesion_secondary[keep]
    reader.forget_lesions(keep)
    return lesion_patient[keep], lesion_organ[keep]


def _seed(table, seeds: Seeds, lesion_patient, lesion_organ, after, st, lethal_cells: float):
    """Found a lesion for every seed alive at the step's end (drawn by the engine, founded during
    the step ∝ cells and thinned by survival, :mod:`gistsim.engine.seeding`), except for patients
    past the lethal volume at its end, who die in it."""
    n = len(st.alive)
    burden = np.bincount(lesion_patient[: len(after)], weights=after, minlength=n)
    ok = st.alive & (burden <= lethal_cells)
    keep = ok[seeds.group]
    if not keep.any():
        return lesion_patient, lesion_organ
    pats, founder = seeds.group[keep], seeds.lesion[keep]
    new_ids = len(lesion_patient) + np.arange(len(pats))
    organ = lesion_organ[founder]
    table.add_cells(new_ids, pats, seeds.genotype[keep], seeds.size[keep])
    lesion_patient = np.concatenate([lesion_patient, pats])
    lesion_organ = np.concatenate([lesion_organ, organ])
    st.necrotic = np.concatenate([st.necrotic, np.zeros(len(pats))])
    st.scar = np.concatenate([st.scar, np.zeros(len(pats))])
    st.removed = np.concatenate([st.removed, np.zeros(len(pats), dtype=bool)])
    st.lesion_label = np.concatenate([st.lesion_label, st.lesions_made[pats] + _numbers_within(pats)])
    st.lesions_made += np.bincount(pats, minlength=n)
    if st.lesion_scale is not None:  # a seeded lesion keeps its founder's lesion's pace
        st.lesion_scale = np.concatenate([st.lesion_scale, st.lesion_scale[founder]])
    if st.lesion_secondary is not None:  # and its founder's lesion's secondary fitness
        st.lesion_secondary = np.concatenate([st.lesion_secondary, st.lesion_secondary[founder]])
    return lesion_patient, lesion_organ
