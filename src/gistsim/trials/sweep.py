"""One trial run at several values of one uncertain parameter, on the same virtual patients.

Every run keeps the trial's seed, so each value treats the same patients with the same streams
(common random numbers): an arm the parameter does not touch gives the same rows at every value,
and differences between values come from the parameter, not from the draw. Each value's results
are a complete trial folder (``OUT/<path>=<value>/``: Parquet blocks, ``report.html``,
``summary.json``); ``OUT/sweep.json``, ``OUT/sweep.md`` and ``OUT/sweep.png`` put the values side by
side (median OS with its CI, OS hazard ratio against the first arm with its CI, RMST of OS).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gistsim.trials.spec import Trial

#: What the sweep's table and figure show per arm and value (keys of a trial's summary.json arm).
COLUMNS = ("median_os_months", "median_os_ci", "hr_os_vs_first", "hr_os_ci", "rmst_os_months", "n")


@dataclass
class SweepResult:
    trial: str
    parameter: str
    values: list[float]
    folders: list[Path]
    summaries: list[dict[str, Any]] = field(default_factory=list)
    """Each value's ``summary.json`` content, in the order of ``values``."""

    @property
    def arms(self) -> list[str]:
        return list(self.summaries[0]["arms"]) if self.summaries else []

    def to_dict(self) -> dict[str, Any]:
        """``sweep.json``: per arm, each column as a list over the values."""
        return {
            "trial": self.trial,
            "parameter": self.parameter,
            "values": self.values,
            "folders": [f.name for f in self.folders],
            "reference_arm": self.summaries[0]["reference_arm"],
            "rmst_horizon_months": self.summaries[0]["rmst_horizon_months"],
            "arms": {arm: {c: [s["arms"][arm][c] for s in self.summaries] for c in COLUMNS} for arm in self.arms},
        }


def parse_values(text: str) -> list[float]:
    """``"0.2,0.5,0.8"`` → ``[0.2, 0.5, 0.8]``: finite, distinct, at least one."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        values = [float(t) for t in items]
    except ValueError:
        raise ValueError(f"--values {text!r} is not accepted: write numbers separated by commas, e.g. 0.2,0.5,0.8") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"--values {text!r} is not accepted: give at least one finite number, e.g. 0.2,0.5,0.8")
    if len(set(values)) != len(values):
        raise ValueError(f"--values {text!r} repeats a value: each value is run once")
    return values


#: ``--values prior``: a lognormal prior's ends are its 5% and 95% quantiles (z = 1.645).
_Z90 = 1.6448536269514722


def prior_values(trial: Trial, parameter: str) -> list[float]:
    """The prior's ends and the value the trial uses, in order: a uniform prior's low and high; a
    lognormal's 5% and 95% quantiles (to 4 significant digits, so folder names stay readable)."""
    from gistsim.trials.runner import trial_model
    from gistsim.validation import InputError

    try:
        p = trial_model(trial).parameter(parameter)
    except (KeyError, ValueError) as exc:
        raise InputError(f"--parameter {parameter}: {exc.args[0]}") from None
    prior = p.prior
    if prior.kind == "uniform":
        ends = [prior.low, prior.high]
    else:
        ends = [float(f"{prior.median * math.exp(s * _Z90 * prior.sigma_log):.4g}") for s in (-1, 1)]
    return sorted({*ends, float(p.value)})


def sweep_trials(trial: Trial, parameter: str, values: Sequence[float]) -> list[Trial]:
    """The trial at each value, all validated before anything runs (an unknown parameter or a value
    outside its prior fails here, naming them)."""
    from gistsim.validation import validate

    out = []
    for v in values:
        raw = {**trial.model_dump(), "parameters": {**trial.parameters, parameter: float(v)}}
        out.append(validate(Trial, raw, f"the trial with {parameter} = {v:g}"))
    return out


def folder_name(parameter: str, value: float) -> str:
    # repr, not a rounded format: distinct values must never share a folder.
    return f"{parameter}={float(value)!r}"


def run_sweep(
    trial: Trial,
    parameter: str,
    values: Sequence[float],
    out: Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run ``trial`` at each value of ``parameter`` into ``out/<parameter>=<value>/`` and analyse each.

    ``progress(done, total)``: patients finished over all values, and the patients of all values.
    ``resume`` finishes each value's run as :func:`gistsim.trials.runner.run_trial` does.
    """
    from gistsim.trials.analysis import BLOCK_GLOB, analyze
    from gistsim.trials.report import write_report
    from gistsim.trials.runner import run_trial

    trials = sweep_trials(trial, parameter, values)
    result = SweepResult(trial.name, parameter, [float(v) for v in values],
                         [out / folder_name(parameter, v) for v in values])  # fmt: skip
    taken = [f for f in result.folders if any(f.glob(BLOCK_GLOB))]
    if taken and not resume:  # refused before any value runs, not after the first ones
        raise FileExistsError(
            f"{taken[0]} already holds a trial's block files; pass resume=True (--resume) to finish that "
            "sweep, or choose an empty folder"
        )
    total = trial.patients * len(trials)
    for k, (t, folder) in enumerate(zip(trials, result.folders)):
        before = k * trial.patients

        def step(done: int, todo: int, before: int = before) -> None:
            # On resume a value's run does fewer patients than the trial has; count them as done.
            progress(before + trial.patients - todo + done, total)

        run_trial(t, folder, workers=workers, scheduler=scheduler, resume=resume, progress=step if progress else None)
        if progress:
            progress(before + trial.patients, total)
        analysis = analyze(folder)
        write_report(analysis, folder)
        result.summaries.append(analysis.to_dict())
    return result


def markdown(result: SweepResult) -> str:
    """A table per arm: each value's median OS, OS HR against the first arm, RMST of OS."""
    from gistsim.trials.report import summary_cell

    doc = result.to_dict()
    lines = [f"# {result.trial}: {result.parameter} swept", "",
             f"The same virtual patients at every value; months from the trial's time origin. OS hazard "
             f"ratios against {doc['reference_arm']}; RMST over {doc['rmst_horizon_months']:.0f} months. "
             "Each value's full report is in its folder.", ""]  # fmt: skip
    for arm, cols in doc["arms"].items():
        lines += [f"## {arm}", "", f"| {result.parameter} | n | median OS (95% CI) | OS HR (95% CI) | RMST OS |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for i, v in enumerate(result.values):
            hr = summary_cell(cols["hr_os_vs_first"][i], cols["hr_os_ci"][i], 2)
            lines.append(f"| {v:g} | {cols['n'][i]} | {summary_cell(cols['median_os_months'][i], cols['median_os_ci'][i])} | "
                         f"{'reference' if arm == doc['reference_arm'] else hr} | "
                         f"{summary_cell(cols['rmst_os_months'][i])} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def write_sweep(result: SweepResult, out: Path) -> list[Path]:
    """``sweep.json``, ``sweep.md`` and ``sweep.png`` into ``out``, each written atomically."""
    import io

    from gistsim.trials.figures import plot_sweep
    from gistsim.trials.report import _write_atomic

    buf = io.BytesIO()
    plot_sweep(result).savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return [
        _write_atomic(out / "sweep.json", (json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n").encode()),
        _write_atomic(out / "sweep.md", (markdown(result) + "\n").encode()),
        _write_atomic(out / "sweep.png", buf.getvalue()),
    ]
