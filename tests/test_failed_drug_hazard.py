"""The failure death hazard: only patients whose disease has progressed on a drug carry it, at its
rate times the number of drugs progressed on so far beyond the exempt ones, whatever the strategy
did about it."""

import numpy as np
import pytest

from test_course import NO_DEATH, TREATMENT, cohort, events, run

H = 0.3  # per year per drug failed
# Imatinib 400 -> 800 mg -> sunitinib, treated beyond progression: imatinib-400-era as it was
# before sunitinib's availability date (a 4-year run would never reach it).
ERA = {"name": "era", "start": "imatinib_400mg_daily",
       "sequence": ["imatinib_800mg_daily", "sunitinib_50mg_4on2off"], "beyond_last": "continue"}  # fmt: skip
DRUG = {name: reg.drug for name, reg in zip(TREATMENT.regimen_names, TREATMENT.regimens)}
ONLY_FAILURES = {**NO_DEATH, "death__lethal_volume_cm3": 1e12, "imaging__measurement_cv": 0.0,
                 "death__hazard_per_year_per_failure": H}  # fmt: skip


def test_disease_that_never_progresses_does_not_die_of_it():
    rec = run(cohort(40, [30.0, 20.0]), ERA, years=4.0, **ONLY_FAILURES)
    assert not events(rec, "progression") and not events(rec, "death")


@pytest.mark.parametrize("exempt", [0, 1])
def test_deaths_match_the_hazard_accumulated_over_failures(exempt):
    # Every patient's disease is resistant to imatinib (D816) and to sunitinib: it progresses on
    # 400 mg (a failure of imatinib), on 800 mg (the same drug: none), then on sunitinib (a second)
    # and again and again beyond it (none). The number of deaths minus the hazard each patient
    # accumulated until death or the horizon is a martingale at the horizon: mean 0, variance the
    # expected number of deaths (Poisson-like).
    n, years = 300, 4.0
    h = H if exempt == 0 else 2 * H  # the power assertion below holds for both
    changes = {**ONLY_FAILURES, "death__hazard_per_year_per_failure": h, "death__failures_exempt": float(exempt)}
    rec = run(cohort(n, [30.0], resistant={0: ("D816", 10**7)}), ERA, years=years, **changes)
    end = np.minimum(rec.death_day, years * 365.25)
    first = {}
    for p, day, regimen in sorted(events(rec, "progression"), key=lambda e: e[1]):
        first.setdefault((p, DRUG[regimen]), day)
    alive = np.isinf(rec.death_day)
    survivors_again = {p for p, day, r in events(rec, "progression") if alive[p] and day > first[p, DRUG[r]]}
    assert alive.any() and {(p, d) for p, d in first if alive[p]} == {
        (p, d) for p in np.flatnonzero(alive) for d in ("imatinib", "sunitinib")
    }
    assert survivors_again  # progressing again on a failed drug happens, and must not add
    cumulative = 0.0
    for p in range(n):
        times = sorted(day for (q, _), day in first.items() if q == p) + [np.inf]
        for j in range(1, len(times)):
            exposure = max(min(times[j], end[p]) - times[j - 1], 0.0)
            cumulative += h * max(j - exempt, 0) * exposure / 365.25
    deaths = len(events(rec, "death"))
    assert deaths > 0.5 * n  # the test has power: most patients die of the hazard within 4 years
    assert abs(deaths - cumulative) < 3.0 * np.sqrt(cumulative)  # α ≈ 0.003, two-sided


def test_a_stop_and_restart_is_not_a_failure():
    # BFR14: progression after stopping imatinib is met by restarting it; the disease has not
    # failed the drug, so no failure hazard (sensitive disease, regrowth off drug only).
    rec = run(cohort(30, [30.0, 20.0]), "bfr14-stop-1y", years=4.0, **ONLY_FAILURES)
    assert len(events(rec, "restart")) > 0 and not events(rec, "death")
