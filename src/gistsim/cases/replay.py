"""Replay a case: draw virtual patients consistent with its baseline, keep those whose course matches.

Patients are simulated in blocks, each block with its own seed spawned from ``seed``, until
``max_patients`` have been simulated or ``time_budget_s`` has passed. The match is never loosened:
if no patient matches, the result says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from gistsim._calibrated import shipped
from gistsim.biology.genotypes import default_registry
from gistsim.cases.forecast import forecast_metadata, twin_rows, write_forecast
from gistsim.cases.match import DAYS_PER_MONTH, CaseMatch, decision_twins, match_course
from gistsim.cases.schema import Case, load_case
from gistsim.clinic.cohort import draw_paces, sample_cohort
from gistsim.clinic.course import simulate_course
from gistsim.clinic.patient import PatientCourse
from gistsim.clinic.strategy import load_strategy
from gistsim.model import Model
from gistsim.streams import PatientStreams, as_draws

#: Months allowed from the start of treatment to the first CR when sizing the horizon.
MONTHS_TO_CR = 36.0


@dataclass
class ReplayResult:
    """Outcome of a replay."""

    case: str
    matched: bool
    n_simulated: int
    n_matched: int
    seed: int
    horizon_months: float
    matches: list[CaseMatch] = field(default_factory=list)
    example: PatientCourse | None = None
    """The first matched patient's full course (for figures)."""
    elapsed_s: float = 0.0
    n_twins: int = 0
    """Patients whose course matched up to the decision (the focal progression)."""
    forecast_rows: list[dict[str, object]] = field(default_factory=list, repr=False)
    """With ``alternatives``: one row per twin per alternative, times from the decision."""
    forecast_meta: dict[str, object] | None = field(default=None, repr=False)

    @property
    def match_fraction(self) -> float:
        return self.n_matched / self.n_simulated if self.n_simulated else 0.0

    def summary_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "case": self.case,
            "matched": self.matched,
            "n_simulated": self.n_simulated,
            "n_matched": self.n_matched,
            "match_fraction": self.match_fraction,
            "seed": self.seed,
            "horizon_months": self.horizon_months,
            "elapsed_s": round(self.elapsed_s, 1),
            "months_counted_from": "start of imatinib",
            "parameter_set": shipped()["name"],
            "n_twins_at_decision": self.n_twins,
        }
        if self.matches:
            m = asdict(self.matches[0])
            m["block_patient"] = m.pop("patient")
            out.update({k: v for k, v in m.items() if k != "block_patient"})
            durations = np.array([x.cr_duration_months for x in self.matches])
            out["all_matches"] = {
                "cr_duration_months_median": float(np.median(durations)),
                "cr_month_median": float(np.median([x.cr_month for x in self.matches])),
            }
        return out


def replay_case(
    case: Case | str,
    *,
    max_patients: int = 20_000,
    block_size: int = 2_000,
    time_budget_s: float = 270.0,
    seed: int = 0,
    alternatives: dict[str, str] | None = None,
    follow_months: float = 60.0,
    progress: Callable[[int, int, int], None] | None = None,
) -> ReplayResult:
    """Simulate virtual patients like the case and keep those whose course reproduces it.

    ``alternatives`` (name -> strategy, e.g. :data:`gistsim.cases.forecast.DEFAULT_ALTERNATIVES`):
    also treat every twin at the decision under each of them (``forecast_rows``), followed for at
    least ``follow_months`` after the latest possible decision. ``progress(simulated, matched,
    twins)`` is called after each block.
    """
    case = case if isinstance(case, Case) else load_case(case)
    if max_patients < 1 or block_size < 1:
        raise ValueError(f"max_patients = {max_patients}, block_size = {block_size}: both must be ≥ 1")
    if not follow_months > 0:
        raise ValueError(f"follow_months = {follow_months}: must be > 0")
    obs = case.observed
    after = obs.progression_free_after_resection_months
    if alternatives:
        after = max(after, follow_months)
        forecast_strategies = {name: load_strategy(s) for name, s in alternatives.items()}
    horizon_months = MONTHS_TO_CR + obs.cr_duration_months.high + after + 3
    horizon_days = horizon_months * DAYS_PER_MONTH
    model = Model.build()
    registry, evolution, clinic = default_registry(), model.evolution, model.clinic
    treatment = model.treatment()
    strategy = load_strategy(case.treatment.strategy)
    mutation = evolution.mutation_model(registry)
    g = registry.n_genotypes
    birth = evolution.untreated_birth(registry)
    death = np.full(g, evolution.death_rate_per_day)
    regimen_drug = {name: reg.drug for name, reg in zip(treatment.regimen_names, treatment.regimens)}
    # Patients like the case share its primary site (a covariate of the forecast's rows).
    spec = replace(case.baseline.to_spec(), primary_site={case.primary.site: 1.0})
    result = ReplayResult(case.name, False, 0, 0, seed, horizon_months)
    if alternatives:
        result.forecast_meta = forecast_metadata(case, dict(alternatives), seed, follow_months, model)
    t0 = time.perf_counter()
    for child in np.random.SeedSequence(seed).spawn(max(1, -(-max_patients // block_size))):
        n = min(block_size, max_patients - result.n_simulated)
        if n <= 0 or time.perf_counter() - t0 > time_budget_s:
            break
        rng = np.random.default_rng(child)
        cohort = sample_cohort(
            n, spec, registry=registry, evolution=evolution, mutation=mutation, pk_sampler=treatment.sample_pk, rng=rng
        )
        draw_paces(cohort, evolution, as_draws(rng))
        # Per-patient streams for the course: the first matched patient is simulated again alone,
        # its clones kept for the figures, with the course it had in its block. Keeping every
        # patient's clones at every visit until a match cost ~3.4 GB for a block of 2,000.
        course_seed = int(child.generate_state(1)[0])
        ids = np.arange(result.n_simulated, result.n_simulated + n)
        kw = dict(treatment=treatment, evolution=evolution, clinic=clinic, mutation=mutation,
                  untreated_birth=birth, untreated_death=death, horizon_days=horizon_days)  # fmt: skip
        rec = simulate_course(cohort, strategy, rng=PatientStreams.from_ids(course_seed, ids), keep_lesions=False, **kw)
        twins = decision_twins(rec, obs, regimen_drug)
        found = match_course(rec, obs, horizon_days, regimen_drug, twins=twins)
        result.n_twins += len(twins)
        if alternatives:
            result.forecast_rows += twin_rows(cohort, ids, twins, forecast_strategies, course_seed, kw)
        if found and result.example is None:
            p = found[0].patient
            alone = simulate_course(
                cohort.subset(np.array([p])), strategy, rng=PatientStreams.from_ids(course_seed, ids[[p]]),
                keep_clones=True, **kw,
            )  # fmt: skip
            result.example = PatientCourse.from_records(alone, 0, treatment.regimen_names)
        result.matches.extend(found)
        result.n_simulated += n
        result.n_matched += len(found)
        if progress:
            progress(result.n_simulated, result.n_matched, result.n_twins)
    result.matched = result.n_matched > 0
    result.elapsed_s = time.perf_counter() - t0
    return result


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_replay(result: ReplayResult, case: Case, out: Path) -> list[Path]:
    """Write ``case_summary.json``, a readable ``case_summary.md`` and the matched patient's figures;
    with a forecast, its twins' results, ``report.html`` and ``summary.json`` in ``out/forecast``."""
    from gistsim.clinic.figures import clone_composition, spider_plot, timeline

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    summary = result.summary_json()
    forecast_md: list[str] = []
    if result.forecast_meta is not None:
        summary["forecast"], forecast_md, paths = write_forecast(
            result.forecast_rows, result.n_twins, result.n_simulated, result.forecast_meta,
            case.observed.progression_free_after_resection_months, out / "forecast",
        )  # fmt: skip
        written += paths
    path = out / "case_summary.json"
    _write_text(path, json.dumps(summary, indent=2) + "\n")
    written.append(path)
    lines = [f"# Case replay: {case.name}", "", case.summary.strip(), "", f"Source: {case.reference}", ""]
    lines.append(
        f"Simulated {result.n_simulated:,} virtual patients drawn from the case's baseline ranges "
        f"(seed {result.seed}, {result.elapsed_s:.0f} s); {result.n_matched} reproduced the observed course "
        f"({result.match_fraction:.3%})."
    )
    if not result.matched:
        lines += ["", "**No virtual patient reproduced the observed course within this budget.** "
                  "The match was not loosened; try a larger --patients budget or check the case file."]  # fmt: skip
    else:
        m = result.matches[0]
        k, organ = m.progressing_lesions_at_focal_progression, case.observed.focal_progression_organ
        numbers = ", ".join(str(i) for i in m.resected_lesions)
        lines += [
            "", "One matched patient (months from the start of imatinib):", "",
            f"- complete response first read at month {m.cr_month:.1f};",
            f"- focal progression of {k} {organ} lesion{'s' if k > 1 else ''} (lesion {numbers} in the figures) "
            f"at month {m.focal_progression_month:.1f}, {m.cr_duration_months:.1f} months after the first CR;",
            f"- {'that lesion' if k == 1 else 'those lesions'} resected, imatinib continued;",
            f"- {m.months_without_progression_after_resection:.1f} months without progression after the resection "
            "(to the end of follow-up).",
            "", "Figures: `spider.png` (lesion diameters), `timeline.png` (treatment and response), "
            "`clones.png` (clones per lesion).",
        ]  # fmt: skip
        if result.example is not None:
            title = f"{case.name}: matched virtual patient"
            written += [
                spider_plot(result.example, out / "spider.png", title=title + " - lesion diameters"),
                timeline(result.example, out / "timeline.png", title=title + " - timeline"),
                clone_composition(result.example, out / "clones.png", title=title + " - clones per lesion"),
            ]
    lines += forecast_md
    lines += ["", "_Research use only; not a substitute for clinical judgement._", ""]
    path = out / "case_summary.md"
    _write_text(path, "\n".join(lines))
    written.append(path)
    return written

