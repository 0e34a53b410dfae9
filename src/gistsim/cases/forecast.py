"""Forecast the alternatives for patients like a case: its twins at the decision, treated every way.

A case's *twins* are the virtual patients whose course matched the observed one up to the
decision the case faced (:func:`gistsim.cases.match.decision_twins`: for the founding case, a
complete response on imatinib, then a single liver lesion escaping 15–21 months later). What the
case did next is one alternative (resecting the escaping lesion, once); the others are what the
default trial compares at focal progression (resecting every such escape, switching to sunitinib,
escalating to 800 mg, continuing unchanged). Each twin is simulated
again under every alternative from its own random streams, so the alternatives are compared on
the same twins and differ only by treatment (DESIGN §5). Their outcomes, counted from the
decision, are trial rows (``gistsim.trials.runner.outcome_rows``) and are analysed like a trial:
Kaplan–Meier, Cox with cluster-robust variance by patient, RMST (``gistsim analyze``).

The alternatives must treat the twins as the case's strategy did until the decision; a strategy
that does not is refused, naming it, since its "twins" would not have reached the same decision.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gistsim import __version__
from gistsim.cases.match import DAYS_PER_MONTH, Twin
from gistsim.cases.schema import Case
from gistsim.clinic.course import Records, simulate_course
from gistsim.clinic.strategy import Strategy
from gistsim.model import Model
from gistsim.streams import PatientStreams
from gistsim.trials.runner import block_path, outcome_rows, write_block

#: The default trial's arms at focal progression (``data/trials/focal-progression.yaml``), and
#: resecting once as the case did (the trial's resection arm operates on every single-lesion escape).
DEFAULT_ALTERNATIVES = {
    "resect-continue": "resect-focal-continue",
    "resect-once": "resect-focal-once",
    "switch-sunitinib": "focal-switch-sunitinib",
    "escalate-800": "standard-sequence",
    "continue-unchanged": "focal-continue",
}


def twin_rows(
    cohort,
    ids: np.ndarray,
    twins: list[Twin],
    alternatives: dict[str, Strategy],
    course_seed: int,
    course_kw: dict[str, object],
) -> list[dict[str, object]]:
    """One row per twin per alternative, times from the twin's focal progression.

    ``cohort`` and ``ids`` are the block the twins were found in, ``course_seed`` the seed of its
    course streams (each twin is simulated again from its own stream, so its course up to the
    decision is the one it had in the block).
    """
    if not twins:
        return []
    local = np.array([t.patient for t in twins], dtype=np.int64)
    focal_day = np.array([t.focal_day for t in twins])
    sub = cohort.subset(local)
    rows: list[dict[str, object]] = []
    for name, strategy in alternatives.items():
        rec = simulate_course(sub, strategy, rng=PatientStreams.from_ids(course_seed, ids[local]), **course_kw)
        _check_same_decision(rec, focal_day, name)
        rows += outcome_rows(rec, local, ids[local], sub, name, strategy, focal_day, np.ones(len(local), dtype=bool))
    for r in rows:
        r.pop("_k", None)
    return rows


def _check_same_decision(rec: Records, focal_day: np.ndarray, name: str) -> None:
    """Raise unless every twin's first progression under ``name`` comes on its decision day.

    Only the day is compared: a strategy without a focal rule (``standard-sequence``, which
    escalates) records the same progression under its regimen's name instead of ``focal``."""
    first = np.full(len(focal_day), np.inf)
    for p, day, kind, _ in rec.events:
        if kind == "progression":
            first[p] = min(first[p], day)
    bad = np.flatnonzero(first != focal_day)
    if len(bad):
        j = int(bad[0])
        when = "no progression" if np.isinf(first[j]) else f"a first progression on day {first[j]:.0f}"
        raise ValueError(
            f"alternative {name!r} treats the case's twins differently before the decision: twin {j} progressed "
            f"focally on day {focal_day[j]:.0f} under the case's strategy, but had {when} under {name!r}; give "
            "strategies that act alike until a focal progression, as the default trial's arms do "
            f"({', '.join(DEFAULT_ALTERNATIVES.values())})"
        )


def forecast_metadata(case: Case, alternatives: dict[str, str], seed: int, follow_months: float,
                      model: Model) -> dict[str, object]:  # fmt: skip
    """The metadata of the twins' result files, in the trial runner's layout (``gistsim analyze`` reads it)."""
    return {
        "version": __version__,
        "seed": seed,
        "trial": {
            "name": f"{case.name}-twins",
            "description": f"Virtual patients whose course matched {case.name} up to its focal progression, "
                           "each treated again under every alternative from that decision.",
            "case": case.name,
            "arms": list(alternatives),
            "arm_strategies": dict(alternatives),
            "randomise_at": "focal_progression",
        },  # fmt: skip
        "parameters": {**model.record(), "case_baseline": case.baseline.model_dump()},
        "analysis": {
            "population": "randomised",
            "endpoints": {"PFS": ["pfs_days", "pfs_event"], "OS": ["os_days", "os_event"]},
            "rmst_horizon_days": follow_months * DAYS_PER_MONTH,
            "time_origin": "focal_progression",
        },
    }


def write_forecast(rows: list[dict[str, object]], folder: Path, meta: dict[str, object]):
    """The twins' rows as one results block, then ``report.html`` and ``summary.json`` (paired Cox).

    Returns the paths written and the :class:`~gistsim.trials.analysis.TrialAnalysis`."""
    from gistsim.trials.analysis import analyze
    from gistsim.trials.report import write_report

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("block-*.parquet"):
        old.unlink()  # a forecast folder holds one run's twins
    path = block_path(folder, 0)
    write_block(rows, path, meta)
    analysis = analyze(folder, cluster_by_patient=True)
    return [path, *write_report(analysis, folder)], analysis
