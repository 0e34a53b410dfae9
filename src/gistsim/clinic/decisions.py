"""What the clinician does at a visit, for every patient at once, following the strategy."""

from __future__ import annotations

import numpy as np

from gistsim.clinic.parameters import ClinicParameters
from gistsim.clinic.reading import PD, PR, SD, Reader, Reading
from gistsim.clinic.strategy import ORGANS, Strategy
from gistsim.clinic.surgery import resect
from gistsim.engine.clones import CloneTable
from gistsim.streams import Draws

_DAYS_PER_MONTH = 30.4375


def focal_lesions(detail: str) -> list[tuple[str, int]]:
    """(organ, number within the patient) of each lesion a ``focal_progression`` event names; the
    detail is written by :func:`decide` as ``"liver 1,lung 3"``."""
    return [(organ, int(number)) for organ, number in (item.split() for item in detail.split(",") if item)]


def toxicity(st, on: np.ndarray, dt: float, day: float, names: list[str], clinic: ClinicParameters, rec, rng) -> None:
    """Discontinuation for intolerance (→ next line at this visit) and imatinib 800 → 400 mg reductions."""
    tox = clinic.toxicity
    p_stop = -np.expm1(-tox.discontinuation_per_year.value * dt / 365.25)
    everyone = np.arange(len(on))
    st.intolerant = on & (rng.random(everyone) < p_stop)
    if "imatinib_800mg_daily" in names and "imatinib_400mg_daily" in names:
        hi, lo = names.index("imatinib_800mg_daily"), names.index("imatinib_400mg_daily")
        p_red = -np.expm1(-tox.dose_reduction_per_year_imatinib_800.value * dt / 365.25)
        red = on & ~st.intolerant & (st.regimen == hi) & (rng.random(everyone) < p_red)
        if red.any():
            st.regimen[red] = lo
            rec.add_event(np.flatnonzero(red), day, "dose_reduction", "imatinib_400mg_daily")


def decide(
    day: float,
    reading: Reading,
    measured: np.ndarray,
    hu: np.ndarray,
    strategy: Strategy,
    names: list[str],
    st,
    rec,
    reader: Reader,
    table: CloneTable,
    lesion_patient: np.ndarray,
    lesion_organ: np.ndarray,
    clinic: ClinicParameters,
    rng: Draws,
    drug_code: np.ndarray,
) -> None:
    """Apply the strategy's rules to every living patient after this visit's reading.

    ``drug_code``: a code of each regimen's drug, by index in ``names``. The first progression on
    a drug counts as a failure (``st.failed_drugs``, which carries a death hazard) whatever the
    strategy does about it — a new line, a dose escalation, a resection — so that arms randomised
    at a progression are alike in it at randomisation; progressing again on the same drug (at a
    higher dose, after a resection, beyond progression) does not add, as trials count prior lines
    by drug (INVICTUS: imatinib, sunitinib, regorafenib). After randomisation the count does
    depend on the strategy: one that keeps a failed drug accrues no failure until it moves on
    (docs/calibration.md). Progression off drug (a stop, BFR14) or on supportive care does not
    count.
    """
    n = len(st.alive)
    pd = st.alive & (reading.recist == PD)
    rebaseline = np.zeros(n, dtype=bool)
    operated = np.zeros(len(lesion_patient), dtype=bool)
    # 0. A regimen waited for (held back by ``available_from_years``) starts once available.
    waiting = np.flatnonzero(st.alive & (st.pending >= 0))
    ready = [p for p in waiting if strategy.available(names[st.pending[p]], day - st.first_start[p])]
    if ready:
        ready = np.asarray(ready)
        st.regimen[ready] = st.pending[ready]
        st.nominal[ready] = st.pending[ready]
        st.line[ready] += 1
        st.regimen_start[ready] = day
        st.pending[ready] = -1
        rec.add_event(ready, day, "line_start", [names[r] for r in st.regimen[ready]])
        rebaseline[ready] = True
        pd[ready] = False
    # 1. Progression while stopped (BFR14): restart the same regimen.
    restart = pd & st.stopped
    if restart.any():
        st.stopped[restart] = False
        st.regimen_start[restart] = day
        rec.add_event(np.flatnonzero(restart), day, "progression", "off_drug")
        rec.add_event(np.flatnonzero(restart), day, "restart", [names[r] for r in st.regimen[restart]])
        rebaseline |= restart
    pd &= ~restart
    on_drug = np.flatnonzero(pd & (st.regimen >= 0))
    st.failed_drugs[on_drug, drug_code[st.regimen[on_drug]]] = True
    # 2. Focal progression: few progressing lesions, all resectable → the strategy's action.
    focal = np.zeros(n, dtype=bool)
    progressing = reading.progressing & st.alive[lesion_patient] & ~st.removed[: len(lesion_patient)]
    if strategy.focal_progression is not None and pd.any():
        rule = strategy.focal_progression
        ok_organ = np.isin(lesion_organ, [ORGANS.index(o) for o in rule.resectable_organs])
        n_prog = np.bincount(lesion_patient, weights=progressing.astype(float), minlength=n)
        n_bad = np.bincount(lesion_patient, weights=(progressing & ~ok_organ).astype(float), minlength=n)
        focal = pd & (st.regimen >= 0) & (n_prog >= 1) & (n_prog <= rule.max_progressing_lesions) & (n_bad == 0)
        if rule.max_operations is not None:  # only with action 'resect' (the strategy's validator)
            focal &= st.focal_operations < rule.max_operations
        if rule.action == "resect":
            # The strategy asks to operate again; whether the patient can be (liver remnant,
            # fitness, the surgeon) is the clinic's: operated again with reoperation_probability,
            # otherwise treated as any other progression. A refusal stands, as its reasons do, so
            # the operations follow the series' per-patient counts (reoperated or not after a
            # recurrence) rather than growing with the number of escapes.
            focal &= ~st.inoperable
            again = np.flatnonzero(focal & (st.focal_operations > 0))
            if len(again):
                declined = again[rng.random(again) >= clinic.surgery.reoperation_probability.value]
                focal[declined] = False
                st.inoperable[declined] = True
                rec.add_event(declined, day, "no_reoperation")
        if focal.any():
            pats = np.flatnonzero(focal)
            rec.add_event(pats, day, "progression", "focal")
            lesions = np.flatnonzero(progressing & focal[lesion_patient])
            rec.add_event(
                pats, day, "focal_progression",
                [",".join(f"{ORGANS[lesion_organ[i]]} {st.lesion_label[i]}" for i in lesions[lesion_patient[lesions] == p])
                 for p in pats],
            )
            if rule.action == "resect":
                _operate(lesions, day, st, rec, table, lesion_patient, lesion_organ, clinic, rng)
                st.focal_operations[pats] += 1
                operated[lesions] = True
            elif rule.action == "switch":
                new = names.index(rule.switch_to)
                st.regimen[pats] = new
                st.nominal[pats] = new
                st.line[pats] += 1
                st.regimen_start[pats] = day
                rec.add_event(pats, day, "line_start", rule.switch_to)
            rebaseline |= focal & st.alive
    pd &= ~focal
    # 3. Any other progression (or intolerance): next regimen, or best supportive care.
    switch = (pd | (st.intolerant & st.alive & ~focal)) & (st.regimen >= 0)
    if switch.any():
        pats = np.flatnonzero(switch)
        for p in pats:
            cause = "progression" if pd[p] else "discontinuation"
            rec.add_event(np.array([p]), day, cause, names[st.regimen[p]])
            # The sequence follows the line's nominal regimen, not a toxicity-reduced dose.
            nxt = strategy.next_regimen(names[st.nominal[p]], other_drug=not pd[p], driver=str(st.driver[p]))
            if nxt is None and pd[p] and strategy.beyond_last == "continue":
                continue  # treatment beyond progression: same regimen, same line, new baseline
            if nxt is not None and pd[p] and not strategy.available(nxt, day - st.first_start[p]):
                st.pending[p] = names.index(nxt)
                continue  # beyond progression until the next regimen exists (step 0 starts it)
            st.regimen[p] = names.index(nxt) if nxt is not None else -1
            st.nominal[p] = st.regimen[p]
            st.pending[p] = -1
            st.line[p] += 1
            st.regimen_start[p] = day
            rec.add_event(np.array([p]), day, "line_start", nxt if nxt is not None else "best_supportive_care")
        rebaseline |= switch
    pd &= ~switch
    # Supportive care: progression is still recorded once per visit for the record.
    if pd.any():
        rec.add_event(np.flatnonzero(pd), day, "progression", "supportive_care")
        rebaseline |= pd
    calm = st.alive & ~rebaseline & (st.regimen >= 0) & ~st.stopped
    # 4. Residual disease at best response.
    if strategy.residual_resection is not None:
        rule = strategy.residual_resection
        tsum = reading.target_sum_mm
        falling = tsum < 0.9 * st.last_sum
        st.plateau = np.where(calm & ~falling & np.isin(reading.recist, (PR, SD)), st.plateau + 1, 0)
        seen = ~np.isnan(measured) & ~st.removed[: len(lesion_patient)]
        n_seen = np.bincount(lesion_patient, weights=seen.astype(float), minlength=n)
        ok_organ = np.isin(lesion_organ, [ORGANS.index(o) for o in rule.resectable_organs])
        n_bad = np.bincount(lesion_patient, weights=(seen & ~ok_organ).astype(float), minlength=n)
        months = (day - st.regimen_start) / _DAYS_PER_MONTH
        go = (
            calm & (st.plateau >= rule.plateau_visits) & (n_seen >= 1) & (n_seen <= rule.max_lesions)
            & (n_bad == 0) & (months >= rule.min_months_on_drug) & ~st.resected_residual
        )
        if go.any():
            lesions = np.flatnonzero(seen & go[lesion_patient])
            rec.add_event(np.flatnonzero(go), day, "residual_resection")
            _operate(lesions, day, st, rec, table, lesion_patient, lesion_organ, clinic, rng)
            operated[lesions] = True
            st.resected_residual |= go
            rebaseline |= go & st.alive
        st.last_sum = tsum
    # 5. Stop after N years without progression on the first regimen (BFR14).
    if strategy.stop is not None:
        stop = calm & (st.line == 1) & (day - st.first_start >= strategy.stop.after_years * 365.25 - 1e-6)
        stop &= ~st.stopped_once
        if stop.any():
            st.stopped[stop] = True
            st.stopped_once |= stop
            rec.add_event(np.flatnonzero(stop), day, "stop", [names[r] for r in st.regimen[stop]])
    if rebaseline.any():
        pats = np.flatnonzero(rebaseline & st.alive)
        # The new baseline is the post-operative state: operated lesions are gone from view.
        m = measured.copy()
        gone = st.removed[: len(m)] | operated
        m[gone] = np.nan
        reader.set_baseline(pats, lesion_patient, lesion_organ, m, hu, gone=gone)


def _operate(lesions, day, st, rec, table, lesion_patient, lesion_organ, clinic, rng) -> None:
    """Resect lesions; perioperative death; drug paused for recovery."""
    surg = clinic.surgery
    pats = np.unique(lesion_patient[lesions])
    r0 = resect(table, lesions, surg, rng=rng, owner=lesion_patient[lesions])
    st.removed[lesions[r0]] = True
    st.necrotic[lesions] = 0.0
    st.scar[lesions] = 0.0
    liver = ORGANS.index("liver")

    def detail(p: int) -> str:
        mine = [(i, r) for i, r in zip(lesions, r0) if lesion_patient[i] == p]
        kind = "hepatectomy" if all(lesion_organ[i] == liver for i, _ in mine) else "resection"
        return kind + " " + ",".join(f"{st.lesion_label[i]}:{'R0' if r else 'R1'}" for i, r in mine)

    rec.add_event(pats, day, "surgery", [detail(p) for p in pats])
    st.off_until[pats] = day + surg.recovery_days.value
    dead = pats[rng.random(pats) < surg.perioperative_death_probability.value]
    if len(dead):
        st.alive[dead] = False
        rec.death_day[dead] = day
        rec.add_event(dead, day, "perioperative_death")
        gone = ~st.alive[table.group]
        table.count[gone] = 0
        table.compact()
