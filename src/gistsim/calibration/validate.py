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
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[Outcome], list[Path]]:
    """Run the target trials into ``out/trials/<name>`` (Parquet; finished blocks are reused),
    score every target, write ``validation.html`` and ``validation.json``. ``parameters``: values
    (by path) over the parameter set, for every trial."""
    from gistsim.trials.runner import run_trial

    targets = list(builtin_targets())
    trials = target_trials(targets, scale=scale, parameter_set=parameter_set, parameters=parameters)
    frames: dict[str, pd.DataFrame] = {}
    for name, trial in trials.items():
        folder = out / "trials" / name
        if folder.exists() and any(folder.glob("block-*.parquet")):
            _check_same(folder, trial)
        run_trial(trial, folder, workers=workers, resume=True,
                  progress=(lambda done, _, n=name, t=trial: progress(n, done, t.patients)) if progress else None)  # fmt: skip
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
        "run on": datetime.date.today().isoformat(),
    }  # fmt: skip
    paths = write_validation(out, outcomes, targets, frames, {n: t.visit_days for n, t in trials.items()}, header)
    return outcomes, paths


def _check_same(folder: Path, trial) -> None:
    """Refuse to mix blocks of a different trial (size, seed or parameters) into this one."""
    import json

    import pyarrow.parquet as pq

    first = next(iter(sorted(folder.glob("block-*.parquet"))))
    meta = json.loads(pq.read_schema(first).metadata[b"gistsim"])
    old = meta["trial"]
    new = trial.model_dump()
    keys = ("patients", "seed", "block_size", "parameter_set", "parameters")
    record = json.loads(json.dumps(_record(trial)))  # as stored: JSON types
    same_values = all(meta["parameters"].get(k) == record[k] for k in ("evolution", "clinic", "potency"))
    if any(old.get(k) != new.get(k) for k in keys) or meta["parameters"].get("parameter_set") != record["parameter_set"] \
            or not same_values:
        raise FileExistsError(
            f"{folder} holds blocks of a different run of {trial.name} (another size, seed or parameter set); "
            "choose another --out or remove that folder"
        )


def _record(trial) -> dict:
    from gistsim.trials.runner import trial_model

    return trial_model(trial).record()
