"""Regimens not yet available (``available_from_years``): a trial that accrued before a drug's
approval keeps progressing patients on their current regimen until the drug exists."""

import numpy as np
import pytest

from gistsim.clinic.strategy import load_strategy
from gistsim.validation import InputError
from test_course import NO_DEATH, cohort, events, run

YEARS = 2.0
VISIT = 84.0
# Resistant to imatinib from the start: every patient progresses on 400 mg within months.
WAITING = {"name": "waiting", "start": "imatinib_400mg_daily", "sequence": ["sunitinib_50mg_4on2off"],
           "available_from_years": {"sunitinib_50mg_4on2off": YEARS}, "beyond_last": "continue"}  # fmt: skip


def _starts(rec, regimen):
    return {p: d for p, d, s in sorted(events(rec, "line_start"), key=lambda e: -e[1]) if s == regimen}


def test_progressing_patients_wait_on_their_regimen_then_switch_at_the_first_visit_it_exists():
    rec = run(cohort(20, [30.0], resistant={0: ("D816", 10**8)}), WAITING, years=3.0,
              imaging__measurement_cv=0.0, **NO_DEATH)  # fmt: skip
    first_pd = {}
    for p, d, _ in sorted(events(rec, "progression"), key=lambda e: e[1]):
        first_pd.setdefault(p, d)
    assert len(first_pd) == 20 and max(first_pd.values()) < YEARS * 365.25  # all progress before it exists
    # Every patient starts sunitinib at the first visit on or after the date, not before.
    due = np.ceil(YEARS * 365.25 / VISIT) * VISIT
    assert _starts(rec, "sunitinib_50mg_4on2off") == {p: due for p in range(20)}
    # Meanwhile they stayed on imatinib: no other line began.
    assert {s for _, _, s in events(rec, "line_start")} == {"imatinib_400mg_daily", "sunitinib_50mg_4on2off"}


def test_without_the_rule_they_switch_at_progression():
    free = {k: v for k, v in WAITING.items() if k != "available_from_years"}
    rec = run(cohort(20, [30.0], resistant={0: ("D816", 10**8)}), free, years=3.0,
              imaging__measurement_cv=0.0, **NO_DEATH)  # fmt: skip
    first_pd = {}
    for p, d, _ in sorted(events(rec, "progression"), key=lambda e: e[1]):
        first_pd.setdefault(p, d)
    assert _starts(rec, "sunitinib_50mg_4on2off") == first_pd


def test_intolerance_is_not_held_back():
    # Everyone stops imatinib for intolerance within weeks (rate 50/year) and goes on to sunitinib
    # at once: the trials met intolerance with dose changes, the few who stopped switched.
    changes = {**NO_DEATH, "toxicity__discontinuation_per_year": 50.0}
    rec = run(cohort(20, [30.0]), WAITING, years=1.0, imaging__measurement_cv=0.0, **changes)
    starts = _starts(rec, "sunitinib_50mg_4on2off")
    assert len(starts) == 20 and max(starts.values()) < YEARS * 365.25


def test_a_regimen_outside_the_sequence_is_refused_by_name():
    bad = {**WAITING, "available_from_years": {"regorafenib_160mg_3on1off": 1.0}}
    with pytest.raises(InputError, match=r"available_from_years key 'regorafenib_160mg_3on1off' is not in the "
                                         r"strategy's sequence; accepted values: sunitinib_50mg_4on2off"):  # fmt: skip
        load_strategy(bad)
    with pytest.raises(InputError, match="available_from_years"):
        load_strategy({**WAITING, "available_from_years": {"sunitinib_50mg_4on2off": -1.0}})
