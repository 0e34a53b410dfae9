"""``gistsim validate``: every target trial with the shipped defaults, scored and reported."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from gistsim import __version__
from gistsim._calibrated import shipped
from gistsim.calibration.report import write_validation
from gistsim.calibration.simulate import Outcome, score, target_trials
from gistsim.calibration.targets import builtin_targets


def run_validation(
    out: Path,
    *,
    workers: int = 1,
    scale: float = 1.0,
    parameter_set: str = "calibrated",
    parameters: dict[str, float] | None = None,
    seed_offset: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[Outcome], list[Path]]:
    """Run the target trials into ``out/trials/<name>`` (Parquet; finished blocks of the same run are
    reused, blocks of another run refused: :func:`gistsim.trials.runner.run_trial`),
    score every target, write ``validation.html`` and ``validation.json``. ``parameters``: values
    (by path) over the parameter set, for every trial; ``seed_offset``: added to every trial's seed."""
    from gistsim.trials.runner import run_trial

    targets = list(builtin_targets())
    trials = target_trials(targets, scale=scale, parameter_set=parameter_set, parameters=parameters,
                           seed_offset=seed_offset)  # fmt: skip
    frames: dict[str, pd.DataFrame] = {}
    for name, trial in trials.items():
        folder = out / "trials" / name
        run_trial(trial, folder, workers=workers, resume=True,
                  progress=(lambda done, total, n=name: progress(n, done, total)) if progress else None)  # fmt: skip
        frames[name] = pd.concat(
            [pd.read_parquet(p) for p in sorted(folder.glob("block-*.parquet"))], ignore_index=True
        )
    outcomes = score(targets, frames, trials)
    cal = shipped()
    header = {
        "parameter set": cal["name"] if parameter_set == "calibrated" else "uncalibrated (data files)",
        "calibration": ", ".join(f"{k}: {v}" for k, v in cal["provenance"].items()
                                 if k in ("method", "seed", "date", "evaluations", "version")) or "none",
        "overrides": ", ".join(f"{k} = {v:g}" for k, v in (parameters or {}).items()) or "none",
        "gistsim version": __version__, "patients": f"{scale:g} × each trial's size",
        "seeds": "each trial's own" + (f" + {seed_offset}" if seed_offset else ""),
        "run on": datetime.date.today().isoformat(),
    }  # fmt: skip
    paths = write_validation(out, outcomes, targets, frames, {n: t.visit_days for n, t in trials.items()}, header)
    return outcomes, paths
