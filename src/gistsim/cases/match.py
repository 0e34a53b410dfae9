"""Does a simulated course reproduce an observed one?

The founding case's course, in the simulator's terms (months from the start of the first drug):

1. a complete response (RECIST CR) on the first regimen, with no progression before it;
2. then, without any progression in between and still on the first drug (no change of line,
   stop or discontinuation before it), a focal progression by exactly the observed number of
   lesions, all in the observed organ, between ``cr_duration_months.low`` and ``.high`` after the
   first CR;
3. its resection, survived;
4. then no progression of any kind, and the patient alive, for at least the observed number of
   months after the resection (the simulation's horizon must cover it).

Nothing here is relaxed when no patient matches: the replay reports that plainly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gistsim.cases.schema import Observed
from gistsim.clinic.course import Records
from gistsim.clinic.decisions import focal_lesions
from gistsim.clinic.reading import CR

DAYS_PER_MONTH = 30.4375


@dataclass
class CaseMatch:
    """The course milestones of one matched patient."""

    patient: int
    cr_month: float
    focal_progression_month: float
    cr_duration_months: float
    progressing_lesions_at_focal_progression: int
    resected_lesions: list[int]
    """The progressing lesions, by their number within the patient (as in the figures' legends)."""
    months_without_progression_after_resection: float


@dataclass
class Twin:
    """A patient whose course matched the observed one up to the decision: the focal progression."""

    patient: int
    cr_day: float
    focal_day: float
    lesions: list[int]
    """The progressing lesions, by their number within the patient."""
    events: list[tuple[float, str, str]] = field(default_factory=list, repr=False)
    """The patient's whole course, time-sorted ``(day, kind, detail)``."""


def decision_twins(
    rec: Records, observed: Observed, regimen_drug: dict[str, str] | None = None
) -> list[Twin]:
    """Every patient of ``rec`` whose course matches ``observed`` up to the focal progression
    (steps 1 and 2 above): the case's twins at the decision, whatever happened after it."""
    if observed.drug is not None and regimen_drug is None:
        raise ValueError(f"observed.drug = {observed.drug!r} needs regimen_drug (the drug of each regimen)")
    days = np.asarray(rec.visit_day)
    is_cr = np.vstack(rec.recist) == CR  # (visits, patients)
    events: dict[int, list[tuple[float, str, str]]] = {}
    for p, d, kind, detail in rec.events:
        events.setdefault(p, []).append((d, kind, detail))
    out = []
    for p in np.flatnonzero(is_cr.any(axis=0)):
        ev = sorted(events.get(int(p), []))
        if observed.drug is not None and not any(
            d == 0 and kind == "line_start" and regimen_drug[detail] == observed.drug for d, kind, detail in ev
        ):
            continue
        twin = _until_decision(int(p), float(days[np.argmax(is_cr[:, p])]), ev, observed)
        if twin is not None:
            out.append(twin)
    return out


def match_course(
    rec: Records, observed: Observed, horizon_days: float, regimen_drug: dict[str, str] | None = None,
    *, twins: list[Twin] | None = None,
) -> list[CaseMatch]:
    """Every patient of ``rec`` whose course reproduces ``observed``.

    ``regimen_drug``: the drug of each regimen by name, needed when ``observed.drug`` is set.
    ``twins``: :func:`decision_twins` of the same arguments, when the caller has them already.
    """
    twins = decision_twins(rec, observed, regimen_drug) if twins is None else twins
    return [m for m in (_after_decision(t, rec, observed, horizon_days) for t in twins) if m is not None]


def _until_decision(p: int, cr_day: float, ev: list[tuple[float, str, str]], observed: Observed) -> Twin | None:
    progressions = [(d, detail) for d, kind, detail in ev if kind == "progression"]
    if any(d <= cr_day for d, _ in progressions):
        return None
    after = [(d, detail) for d, detail in progressions if d > cr_day]
    if not after or after[0][1] != "focal":
        return None
    focal_day = after[0][0]
    changed = {"discontinuation", "stop", "restart"}
    if any((kind == "line_start" and d > 0) or kind in changed for d, kind, _ in ev if d <= focal_day):
        return None
    duration = (focal_day - cr_day) / DAYS_PER_MONTH
    if not observed.cr_duration_months.low <= duration <= observed.cr_duration_months.high:
        return None
    # The organ as the event recorded it: a resected lesion's row is gone from the final arrays.
    progressing = [x for d, kind, detail in ev if kind == "focal_progression" and d == focal_day for x in focal_lesions(detail)]
    lesions = [number for _, number in progressing]
    if len(lesions) != observed.focal_progression_lesions or any(o != observed.focal_progression_organ for o, _ in progressing):
        return None
    return Twin(p, cr_day, focal_day, lesions, ev)


def _after_decision(twin: Twin, rec: Records, observed: Observed, horizon_days: float) -> CaseMatch | None:
    ev = twin.events
    if any(kind == "perioperative_death" for d, kind, _ in ev):
        return None
    later = [d for d, kind, _ in ev if kind == "progression" and d > twin.cr_day][1:]  # after the focal one
    end = min(later + [float(rec.death_day[twin.patient]), horizon_days])
    free_months = (end - twin.focal_day) / DAYS_PER_MONTH
    if free_months < observed.progression_free_after_resection_months:
        return None
    return CaseMatch(
        patient=twin.patient,
        cr_month=twin.cr_day / DAYS_PER_MONTH,
        focal_progression_month=twin.focal_day / DAYS_PER_MONTH,
        cr_duration_months=(twin.focal_day - twin.cr_day) / DAYS_PER_MONTH,
        progressing_lesions_at_focal_progression=len(twin.lesions),
        resected_lesions=twin.lesions,
        months_without_progression_after_resection=free_months,
    )
