"""``gistsim calibrate``: fit the uncertain parameters to the published targets with CMA-ES.

* The fitted parameters (:data:`FITTED`) are searched in their priors' standard scale: for a
  log-normal prior z = ln(value / median) / sigma_log, for a uniform prior z = 6·(value − low) /
  (high − low) − 3; CMA-ES (Hansen's ``cma`` package) searches z within [−3, 3].
* The objective is the fitting distance of :func:`gistsim.calibration.simulate.distance` plus a
  weak prior term, ``PRIOR_WEIGHT · Σ z²``, which keeps the fit near the priors' centres where the
  targets do not pull it away.
* Every candidate runs the same target trials with the same seeds (common random numbers), so
  differences between candidates are not sampling noise; candidates of one generation run in
  parallel on ``workers`` processes (Dask), and the result does not depend on their number.
* The run is reproducible from its seed; the best candidate is written as ``calibrated.yaml``
  with its provenance (targets, method, seed, date, version, evaluations, distance), the file
  the package ships as ``gistsim/data/calibrated.yaml``.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from gistsim import __version__
from gistsim.calibration.simulate import check_loss, distance, run_in_process, score, target_trials
from gistsim.calibration.targets import builtin_targets
from gistsim.model import Model

#: The parameters calibration fits (each has a prior in its data file).
FITTED = (
    "evolution.net_growth_rate_per_day",
    "evolution.birth_rate_per_day",
    "evolution.mutation_rate_per_bp_per_division",
    "evolution.kinetics_iiv_sigma_log",
    "evolution.growth_half_volume_cm3",
    "evolution.kill_slowing_exponent",
    "evolution.escape_target_bp",
    "evolution.escape_relative_growth",
    "evolution.secondary_relative_growth",
    "evolution.escape_growth_iiv_sigma_log",
    "evolution.secondary_growth_iiv_sigma_log",
    "evolution.secondary_growth_lesion_sigma_log",
    "evolution.host_kill_iiv_sigma_log",
    "evolution.kill_iiv_sigma_log",
    "evolution.indolent_fraction",
    "evolution.lesion_pace_sigma_log",
    "evolution.tolerance_kill_floor",
    "evolution.tolerance_kill_floor_wild_type",
    "evolution.tolerance_rate_per_day",
    "potency.emax_per_day",
    "potency.host_kill_per_day.imatinib",
    "potency.ec50_ng_ml.imatinib.KIT_exon11",
    "potency.ec50_ng_ml.imatinib.KIT_exon9",
    "potency.ec50_ng_ml.imatinib.wild_type",
    "potency.ec50_scale.sunitinib",
    "potency.ec50_scale.regorafenib",
    "potency.ec50_scale.ripretinib",
    "clinic.imaging.necrosis_half_life_days",
    "clinic.imaging.scar_fraction",
    "clinic.imaging.scar_half_life_days",
    "clinic.imaging.resorption_exponent",
    "clinic.death.burden_hazard_per_year_at_reference",
    "clinic.death.burden_exponent",
    "clinic.death.lethal_volume_cm3",
    "clinic.death.hazard_per_year_per_failure",
    "clinic.death.failures_exempt",
    "clinic.seeding.rate_per_cell_per_day",
)
PRIOR_WEIGHT = 0.02
Z_BOUND = 3.0
#: Tighter bounds (in z) where prior knowledge is a hard constraint: ripretinib is 'S' for the
#: exon 17/18 mutants (model_parameters.md §3a) and its D816 EC50 already sits at the 'S' limit
#: (potency.yaml rule 1), so its potency factor may not exceed 1.
Z_BOUNDS = {"potency.ec50_scale.ripretinib": (-Z_BOUND, 0.0)}


def _bounds(free: tuple[str, ...]) -> list[list[float]]:
    """Lower and upper z bound of every searched parameter."""
    pairs = [Z_BOUNDS.get(k, (-Z_BOUND, Z_BOUND)) for k in free]
    return [[p[0] for p in pairs], [p[1] for p in pairs]]


@cache
def _prior(path: str):
    return Model.build("priors").parameter(path).prior


def start_values(kind: str) -> dict[str, float]:
    """The fitted parameters' values in the data files (``priors``) or the shipped set (``calibrated``)."""
    if kind not in ("priors", "calibrated"):
        raise ValueError(f"start = {kind!r} is not accepted; accepted values: priors, calibrated")
    model = Model.build(kind)
    return {k: model.value(k) for k in FITTED}


def check_fitted(paths, option: str) -> None:
    """Raise ValueError naming ``option`` and the accepted names if a path is not fitted."""
    unknown = [p for p in paths if p not in FITTED]
    if unknown:
        raise ValueError(f"{option} {', '.join(unknown)}: not a fitted parameter; accepted: {', '.join(FITTED)}")


def to_value(path: str, z: float) -> float:
    prior = _prior(path)
    if prior.kind == "lognormal":
        return float(prior.median * math.exp(prior.sigma_log * z))
    return float(prior.low + (prior.high - prior.low) * (z + Z_BOUND) / (2 * Z_BOUND))


def to_z(path: str, value: float) -> float:
    prior = _prior(path)
    if prior.kind == "lognormal":
        return float(math.log(value / prior.median) / prior.sigma_log)
    return float(2 * Z_BOUND * (value - prior.low) / (prior.high - prior.low) - Z_BOUND)


def objective(values: dict[str, float], scale: float, loss: str = "cauchy") -> tuple[float, float, int]:
    """(objective, distance, targets within) of one candidate: its target trials run in this process."""
    targets = [t for t in builtin_targets() if t.fit]
    trials = target_trials(targets, scale=scale, parameter_set="priors", parameters=values, block_size=100)
    frames = {name: run_in_process(trial) for name, trial in trials.items()}
    outcomes = score(targets, frames, trials)
    d = distance(outcomes, targets, loss)
    prior = PRIOR_WEIGHT * sum(to_z(k, v) ** 2 for k, v in values.items())
    return d + prior, d, sum(o.within for o in outcomes)


@dataclass
class Calibration:
    best: dict[str, float]
    best_objective: float
    best_distance: float
    evaluations: int
    history: list[dict[str, object]]


def calibrate(
    out: Path,
    *,
    seed: int = 2026,
    scale: float = 0.06,
    max_evaluations: int = 240,
    popsize: int = 10,
    sigma0: float = 0.8,
    start: dict[str, float] | None = None,
    free: tuple[str, ...] | None = None,
    loss: str = "cauchy",
    workers: int = 1,
    progress: Callable[[int, int, float], None] | None = None,
) -> Calibration:
    """Run CMA-ES and write ``out/calibrated.yaml`` and ``out/calibration.json`` (atomically).

    ``start`` gives the fitted parameters' starting values (the data files' where missing);
    ``free`` the ones searched (all of :data:`FITTED` by default): the others stay at their start
    values in every candidate and in the result, which lists every fitted parameter.
    """
    import cma

    free = FITTED if free is None else tuple(free)
    check_loss(loss)
    check_fitted(free, "free parameter")
    check_fitted(start or {}, "start value")
    if not free:
        raise ValueError("free parameters: none given; accepted: any of " + ", ".join(FITTED))
    out.mkdir(parents=True, exist_ok=True)
    priors = Model.build("priors")
    base = {k: float((start or {}).get(k, priors.value(k))) for k in FITTED}
    x0 = [to_z(k, base[k]) for k in free]
    lo, hi = _bounds(free)
    es = cma.CMAEvolutionStrategy(
        np.clip(x0, np.array(lo) + 0.01, np.array(hi) - 0.01), sigma0,
        {"seed": seed, "popsize": popsize, "bounds": [lo, hi], "maxfevals": max_evaluations, "verbose": -9},
    )  # fmt: skip
    settings = dict(seed=seed, scale=scale, popsize=popsize, sigma0=sigma0, start=base, free=free, loss=loss)
    history: list[dict[str, object]] = []
    client = cluster = None
    if workers > 1:
        from dask.distributed import Client

        from gistsim.trials.runner import local_cluster

        cluster = local_cluster(workers)
        client = Client(cluster)
    try:
        while not es.stop() and len(history) < max_evaluations:
            zs = es.ask()
            cands = [base | {k: to_value(k, float(z)) for k, z in zip(free, x)} for x in zs]
            if client is not None:
                k = len(cands)
                results = client.gather(client.map(objective, cands, [scale] * k, [loss] * k, pure=False))
            else:
                results = [objective(c, scale, loss) for c in cands]
            es.tell(zs, [r[0] for r in results])
            for c, (obj, d, k) in zip(cands, results):
                history.append({"values": c, "objective": obj, "distance": d, "within": k})
            if progress:
                progress(len(history), max_evaluations, min(h["objective"] for h in history))
            # The best so far is on disk after every generation: an interrupted run keeps it.
            _write(out, _result(history), **settings)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    result = _result(history)
    _write(out, result, **settings)
    return result


def _result(history: list[dict[str, object]]) -> Calibration:
    best = min(history, key=lambda h: h["objective"])
    return Calibration(best["values"], best["objective"], best["distance"], len(history), history)


def _write(out: Path, result: Calibration, **settings) -> None:
    from gistsim.trials.report import _write_atomic

    fitted = [t.name for t in builtin_targets() if t.fit]
    date = datetime.date.today().isoformat()
    doc = {
        "name": f"calibrated-{date}",
        "provenance": {
            "method": "CMA-ES (cma package) on the tolerance-scaled distance to the targets "
                      f"({settings['loss']} loss), plus {PRIOR_WEIGHT} x sum of squared prior z-scores",
            "seed": settings["seed"], "date": date, "version": __version__,
            "evaluations": result.evaluations, "objective": round(result.best_objective, 4),
            "distance": round(result.best_distance, 4), "patients_scale": settings["scale"],
            "popsize": settings["popsize"], "sigma0": settings["sigma0"],
            "start_z": {k: round(to_z(k, v), 4) for k, v in settings["start"].items()},
            "free": list(settings["free"]),
            "targets": fitted,
        },
        "values": {k: float(f"{v:.6g}") for k, v in result.best.items()},
    }  # fmt: skip
    _write_atomic(out / "calibrated.yaml", yaml.safe_dump(doc, sort_keys=False, width=100).encode())
    _write_atomic(out / "calibration.json", (json.dumps({"best": result.best, "history": result.history},
                                                        indent=1) + "\n").encode())  # fmt: skip
