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
from gistsim.trials.runner import analysis_metadata, block_path, outcome_rows, write_block

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
        rows += outcome_rows(rec, ids[local], sub, name, strategy, focal_day, np.ones(len(local), dtype=bool))
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
        "analysis": analysis_metadata("focal_progression", follow_months * DAYS_PER_MONTH),
    }


def write_forecast(rows: list[dict[str, object]], n_twins: int, n_simulated: int, meta: dict[str, object],
                   observed_months: float, folder: Path) -> tuple[dict[str, object], list[str], list[Path]]:  # fmt: skip
    """Write the twins' rows as one results block in ``folder`` with its ``report.html`` and
    ``summary.json`` (analysed like a trial, Cox cluster-robust by patient); return the forecast's
    entry of ``case_summary.json``, its section of ``case_summary.md`` and the paths written."""
    from gistsim.trials.analysis import analyze
    from gistsim.trials.report import summary_cell, write_report

    follow = meta["analysis"]["rmst_horizon_days"] / DAYS_PER_MONTH
    md = ["", "## Forecast: the alternatives for the case's twins", ""]
    if not rows:
        md.append(f"No virtual patient matched the course up to the focal progression among {n_simulated:,}: "
                  "nothing to forecast.")  # fmt: skip
        return {"n_twins": 0, "alternatives": {}}, md, []
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("block-*.parquet"):
        old.unlink()  # a forecast folder holds one run's twins
    path = block_path(folder, 0)
    write_block(rows, path, meta)
    analysis = analyze(folder, cluster_by_patient=True)
    paths = [path, *write_report(analysis, folder)]
    doc = analysis.to_dict()
    entry: dict[str, object] = {"n_twins": n_twins, "months_counted_from": "the focal progression",
                                "report": "forecast/report.html", "alternatives": {}}  # fmt: skip
    md += [
        f"{n_twins} virtual patients matched the observed course up to the focal progression (the case's "
        "twins at the decision). Each was treated again under every alternative from its own random streams, so "
        "the alternatives differ only by treatment. Months from the focal progression; hazard ratios against "
        f"the first alternative (Cox, cluster-robust by patient). Report: `forecast/report.html`.",
        "",
        f"| alternative | median PFS (95% CI) | median OS (95% CI) | OS HR (95% CI) | progression-free at {observed_months:g} months "
        f"| alive at {follow:g} months |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, arm in doc["arms"].items():
        pf = float(analysis.kaplan_meier["PFS"][name].predict(float(observed_months)))
        alive = float(analysis.kaplan_meier["OS"][name].predict(float(follow)))
        entry["alternatives"][name] = {
            "strategy": meta["trial"]["arm_strategies"][name],
            **{k: arm[k] for k in ("median_pfs_months", "median_pfs_ci", "median_os_months", "median_os_ci",
                                   "rmst_os_months", "hr_os_vs_first", "hr_os_ci")},
            "progression_free_at_observed_months": pf, "alive_at_follow_months": alive,
        }  # fmt: skip
        md.append(f"| {name} | {summary_cell(arm['median_pfs_months'], arm['median_pfs_ci'])} "
                  f"| {summary_cell(arm['median_os_months'], arm['median_os_ci'])} "
                  f"| {'reference' if name == analysis.reference_arm else summary_cell(arm['hr_os_vs_first'], arm['hr_os_ci'], 2)} "
                  f"| {pf:.0%} | {alive:.0%} |")  # fmt: skip
    entry["observed_months"], entry["follow_months"] = observed_months, follow
    md += ["", "The model misses the outcome after surgery for focal resistance (DeMatteo 2007: about 12 months to "
           "the next progression published, about 3 simulated; `docs/calibration.md`): read the resection's "
           "progression-free time with that in mind."]  # fmt: skip
    return entry, md, paths

