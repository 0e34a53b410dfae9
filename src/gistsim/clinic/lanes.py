"""Patients handed from one course to others at a visit: randomisation at an event, without replay.

A trial randomised at focal progression treats a patient alike in every arm until then. The first
arm's course (:func:`gistsim.clinic.course.simulate_course` with ``snapshots``) keeps, at each visit,
the whole state of the patients whose first progression it reads, taken before its strategy decides:
their clones, lesions, scans, reader, regimen history, random streams (copies, at the same point)
and records. :func:`continue_courses` takes them on under another strategy from that visit, each
patient joining the course at its own visit, and :func:`stitched_records` gives every patient the
records of a course run from day 0 (the first arm's before the visit, its own after).

A patient's course depends only on its own state and streams (:mod:`gistsim.streams`), so this is
exactly the course a replay from day 0 would give (tests compare them row for row), without the
replay: in the default trial half of the other arms' patient-visits were the randomised patients'
replayed histories.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from gistsim.clinic import course as _course
from gistsim.clinic.reading import Reader, Reading
from gistsim.engine.clones import CloneTable
from gistsim.streams import Draws, PatientStreams

#: Fields of the course state held per lesion (every other ``_State`` field is per patient).
_ST_LESION = ("necrotic", "scar", "removed", "lesion_label", "lesion_scale", "lesion_secondary")
_ST_PATIENT = tuple(f.name for f in fields(_course._State) if f.name not in _ST_LESION)
_READER_PATIENT = (
    "baseline_sum", "nadir_sum", "baseline_hu", "has_baseline", "non_target_nadir", "total_nadir", "last",
)  # fmt: skip
_READER_LESION = ("lesion_target", "lesion_known", "lesion_nadir")
_COURSE_PATIENT = ("age_years", "kinetics_scale", "escape_scale", "kill_scale", "host_scale")
_REC_PATIENT = ("death_day", "secondary_at_progression")
_READING_PATIENT = ("recist", "choi", "target_sum_mm", "new_lesion")


@dataclass
class Joiners:
    """Some patients' state at a visit, before the decisions (numbered 0..k-1, lesions 0..m-1)."""

    day: float
    visit: int
    """Index of the visit in the source course's records (0 is the baseline scan)."""
    events_before: int
    """Events the source course had recorded by then (the patients' history is theirs among these)."""
    parents: np.ndarray
    """The patients' indices in the source course."""
    patient: dict[str, np.ndarray | None]
    lesion: dict[str, np.ndarray | None]
    lesion_patient: np.ndarray
    clones: CloneTable
    generators: list[tuple[type, dict]]
    """Each patient's bit generator: its type and state."""

    def select(self, rows: np.ndarray) -> Joiners:
        """The same for the patients ``rows`` only (in that order, renumbered)."""
        rows = np.asarray(rows, dtype=np.int64)
        keep_l, lesion_patient, clones = _course.patients_rows(rows, len(self.parents), self.lesion_patient, self.clones)
        return Joiners(
            self.day, self.visit, self.events_before, self.parents[rows],
            {k: _rows(v, rows) for k, v in self.patient.items()}, {k: _rows(v, keep_l) for k, v in self.lesion.items()},
            lesion_patient, clones, [self.generators[i] for i in rows.tolist()],
        )  # fmt: skip


def take(course, patients: np.ndarray, measured: np.ndarray, hu: np.ndarray, reading: Reading) -> Joiners:
    """``patients``' state in ``course`` (a :class:`gistsim.clinic.course._Course` between its
    interval and its decisions), their streams copied at the point they have reached."""
    patients = np.asarray(patients, dtype=np.int64)
    n_l = len(course.lesion_patient)
    course.reader._grow(n_l)
    lesions, lesion_patient, clones = _course.patients_rows(patients, course.n, course.lesion_patient, course.table)
    st, reader = course.st, course.reader
    patient = {f"st.{k}": _rows(getattr(st, k), patients) for k in _ST_PATIENT}
    patient |= {f"reader.{k}": getattr(reader, k)[patients] for k in _READER_PATIENT}
    patient |= {f"course.{k}": _rows(getattr(course, k), patients) for k in _COURSE_PATIENT}
    patient |= {f"rec.{k}": getattr(course.rec, k)[patients] for k in _REC_PATIENT}
    patient |= {f"reading.{k}": getattr(reading, k)[patients] for k in _READING_PATIENT}
    lesion = {f"st.{k}": _rows(getattr(st, k), lesions) for k in _ST_LESION}
    lesion |= {f"reader.{k}": getattr(reader, k)[:n_l][lesions] for k in _READER_LESION}
    lesion |= {"organ": course.lesion_organ[lesions], "measured": measured[lesions], "hu": hu[lesions],
               "reading.progressing": reading.progressing[lesions]}  # fmt: skip
    streams = course.draws.streams
    bits = [streams.generators[streams.index[p]].bit_generator for p in patients.tolist()]
    generators = [(type(b), b.state) for b in bits]
    return Joiners(
        course.day, len(course.rec.visit_day) - 1, len(course.rec.events), patients, patient, lesion,
        lesion_patient, clones, generators,
    )  # fmt: skip


def _rows(values: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[idx]


def _generator(kind: type, state: dict) -> np.random.Generator:
    """A generator at ``state`` (seeded with 0 first: seeding from the OS's entropy costs more)."""
    out = np.random.Generator(kind(0))
    out.bit_generator.state = state
    return out


def _cat(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:  # a factor no one has (the courses come from the same cohort)
        if a is not None or b is not None:
            raise ValueError("patients join a course with a per-patient factor that only one side has")
        return None
    return np.concatenate([a, b])


def join(course, j: Joiners, visit: tuple[np.ndarray, np.ndarray, Reading]) -> tuple[np.ndarray, np.ndarray, Reading]:
    """Append the patients of ``j`` to ``course`` (at ``j.day``, before the decisions); returns the
    visit's ``(measured, hu, reading)`` with theirs appended."""
    measured, hu, reading = visit
    n0, l0 = course.n, len(course.lesion_patient)
    st, reader = course.st, course.reader
    reader._grow(l0)
    for k in _ST_PATIENT:
        setattr(st, k, _cat(getattr(st, k), j.patient[f"st.{k}"]))
    for k in _ST_LESION:
        setattr(st, k, _cat(getattr(st, k), j.lesion[f"st.{k}"]))
    for k in _READER_PATIENT:
        setattr(reader, k, np.concatenate([getattr(reader, k), j.patient[f"reader.{k}"]]))
    for k in _READER_LESION:
        setattr(reader, k, np.concatenate([getattr(reader, k)[:l0], j.lesion[f"reader.{k}"]]))
    reader.n = n0 + len(j.parents)
    for k in _COURSE_PATIENT:
        setattr(course, k, _cat(getattr(course, k), j.patient[f"course.{k}"]))
    for k in _REC_PATIENT:
        setattr(course.rec, k, np.concatenate([getattr(course.rec, k), j.patient[f"rec.{k}"]]))
    course.pk_rows = np.concatenate([course.pk_rows, j.parents])  # their rows of the source's PK
    t = course.table
    course.table = CloneTable(
        np.concatenate([t.lesion, j.clones.lesion + l0]), np.concatenate([t.group, j.clones.group + n0]),
        np.concatenate([t.genotype, j.clones.genotype]), np.concatenate([t.count, j.clones.count]), t.n_genotypes,
    )  # fmt: skip
    course.lesion_patient = np.concatenate([course.lesion_patient, j.lesion_patient + n0])
    course.lesion_organ = np.concatenate([course.lesion_organ, j.lesion["organ"]])
    course._set_floor()
    course.draws.streams.extend([_generator(*g) for g in j.generators])  # joiners may join other courses too
    reading = Reading(
        *(np.concatenate([getattr(reading, k), j.patient[f"reading.{k}"]]) for k in _READING_PATIENT),
        np.concatenate([reading.progressing, j.lesion["reading.progressing"]]),
    )
    return np.concatenate([measured, j.lesion["measured"]]), np.concatenate([hu, j.lesion["hu"]]), reading


def continue_courses(joiners: list[Joiners], strategy, *, pk: dict, horizon_days: float, visit_days: float = 84.0,
                     exposure_cache: dict | None = None, **course_kw) -> _course.Records:  # fmt: skip
    """Take on ``joiners`` (in order of their visits) under ``strategy`` until death or the horizon.

    ``pk``: the source course's PK parameters (every patient's; the joiners' ``parents`` index it),
    and ``exposure_cache`` its cache of exposures, if it kept one. Patients are numbered in the order
    they joined. The records start at the first joiners' visit (:func:`stitched_records` completes them).
    """
    first = joiners[0]
    course = _course._Course(strategy, draws=Draws(PatientStreams([])),
                             exposure_cache=exposure_cache, **course_kw)  # fmt: skip
    course.pk, course.pk_rows = pk, np.zeros(0, dtype=np.int64)
    course.table = CloneTable(*(np.empty(0, dtype=t) for t in (np.int64, np.int64, np.int32, np.int64)),
                              first.clones.n_genotypes)  # fmt: skip
    course.lesion_patient = np.empty(0, dtype=np.int64)
    course.lesion_organ = np.empty(0, dtype=np.int64)
    course.st = _course._State(**{k: _empty_like(first.patient[f"st.{k}"]) for k in _ST_PATIENT},
                               **{k: _empty_like(first.lesion[f"st.{k}"]) for k in _ST_LESION})  # fmt: skip
    course.reader = Reader(0)
    for k in _COURSE_PATIENT:
        setattr(course, k, _empty_like(first.patient[f"course.{k}"]))
    course.rec = _course.Records(death_day=np.zeros(0), secondary_at_progression=np.zeros(0, dtype=np.int64))
    course.day = first.day
    empty = Reading(*(_empty_like(first.patient[f"reading.{k}"]) for k in _READING_PATIENT),
                    np.zeros(0, dtype=bool))  # fmt: skip
    visit = (np.zeros(0), np.zeros(0), empty)
    course.rec.visit_day.append(first.day)
    pending = list(joiners)
    while True:
        while pending and abs(pending[0].day - course.day) < 1e-6:
            visit = join(course, pending.pop(0), visit)
        course.decide(*visit)
        if not (course.day + 1e-9 < horizon_days and (course.st.alive.any() or pending)):
            break
        visit = course.interval(min(visit_days, horizon_days - course.day))[:3]
    return course.finish()


def _empty_like(values: np.ndarray | None) -> np.ndarray | None:
    return None if values is None else values[:0].copy()


def stitched_records(source: _course.Records, joiners: list[Joiners], taken: _course.Records) -> _course.Records:
    """Records of the joined patients as a course from day 0 would have them, ordered by their
    index in the source course: ``source``'s before each patient's visit (its history there),
    ``taken``'s (from :func:`continue_courses`, patients in the order they joined) from it."""
    v0 = joiners[0].visit
    n = sum(len(j.parents) for j in joiners)
    parent = np.concatenate([j.parents for j in joiners])
    joined_at = np.concatenate([np.full(len(j.parents), j.visit) for j in joiners])
    cut = np.concatenate([np.full(len(j.parents), j.events_before) for j in joiners])
    n_visits = max(len(source.visit_day), v0 + len(taken.visit_day))
    order = np.argsort(parent, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    out = _course.Records(death_day=taken.death_day[order],
                          secondary_at_progression=taken.secondary_at_progression[order])  # fmt: skip
    out.visit_day = (list(source.visit_day) + list(taken.visit_day[len(source.visit_day) - v0:]))[:n_visits]
    for name, fill in (("recist", -1), ("choi", -1), ("target_sum_mm", 0.0), ("regimen", -1)):
        src, own = getattr(source, name), getattr(taken, name)
        lists = []
        for t in range(n_visits):
            row = np.full(n, fill, dtype=own[0].dtype)  # own[0]: the first joiners' visit
            before = joined_at > t
            if t < len(src) and before.any():
                row[before] = src[t][parent[before]]
            if 0 <= t - v0 < len(own):  # the patients joined by then: the first len(own[t - v0])
                row[: len(own[t - v0])] = own[t - v0]
            lists.append(row[order])
        setattr(out, name, lists)
    # Each patient's events: its parent's before the joining visit's decisions, then its own.
    lane = np.full(int(parent.max()) + 1, -1)
    lane[parent] = np.arange(n)
    events = []
    for i, (p, d, kind, detail) in enumerate(source.events):
        if p < len(lane) and lane[p] >= 0 and i < cut[lane[p]]:
            events.append((int(rank[lane[p]]), d, kind, detail))
    out.events = events + [(int(rank[p]), d, kind, detail) for p, d, kind, detail in taken.events]
    return out
