"""Running the target trials and scoring every target: shared by validation and fitting."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import pandas as pd

from gistsim.calibration.statistics import derive, evaluate
from gistsim.calibration.targets import Target
from gistsim.trials.spec import Trial, load_trial


@dataclass
class Outcome:
    """One target against its simulated value (the rows of ``validation.json``)."""

    name: str
    trial: str
    statistic: str
    unit: str
    published: float
    simulated: float
    lo: float
    hi: float
    n: int
    tolerance: float
    tolerance_basis: str
    within: bool
    source: str
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        for k in ("simulated", "lo", "hi"):
            if not math.isfinite(d[k]):
                d[k] = None  # JSON has no NaN or infinity: not computable / not reached
        return d


def target_trials(targets: Iterable[Target], *, scale: float = 1.0, parameter_set: str = "calibrated",
                  parameters: dict[str, float] | None = None, block_size: int | None = None,
                  seed_offset: int = 0) -> dict[str, Trial]:  # fmt: skip
    """The trials the targets need, ``scale`` × their patients, with the given parameters (and
    blocks of at most ``block_size`` patients, which bounds a worker's memory); ``seed_offset``
    is added to every trial's seed (other virtual patients, to see how much a result owes to
    the draw)."""
    out: dict[str, Trial] = {}
    for t in targets:
        if t.trial in out:
            continue
        base = load_trial(t.trial)
        update = {"patients": max(base.block_size // 10, round(base.patients * scale)),
                  "parameter_set": parameter_set, "parameters": dict(parameters or {}),
                  "seed": base.seed + seed_offset}  # fmt: skip
        update["block_size"] = min(block_size or base.block_size, base.block_size, update["patients"])
        out[t.trial] = Trial.model_validate({**base.model_dump(), **update})
    return out


def run_in_process(trial: Trial, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """All rows of ``trial``, block by block in this process (no files)."""
    from gistsim.trials.runner import run_block

    spec = trial.model_dump_json()
    rows: list[dict[str, object]] = []
    n_blocks = -(-trial.patients // trial.block_size)
    for b in range(n_blocks):
        rows += run_block(spec, b)
        if progress:
            progress(min(trial.block_size, trial.patients - b * trial.block_size))
    return pd.DataFrame(rows)


def score(targets: Iterable[Target], frames: dict[str, pd.DataFrame], trials: dict[str, Trial]) -> list[Outcome]:
    """Every target's simulated value, interval and verdict."""
    derived = {name: derive(df, trials[name].visit_days) for name, df in frames.items()}
    out = []
    for t in targets:
        v = evaluate(derived[t.trial], t)
        within = math.isfinite(v.value) and abs(v.value - t.published) <= t.tolerance + 1e-12
        reason = ""
        if not within:
            if not math.isfinite(v.value):
                reason = "not reached in the simulated follow-up" if v.n else "no simulated patient qualifies"
            else:
                side = "above" if v.value > t.published else "below"
                reason = f"simulated {side} the band by {abs(v.value - t.published) - t.tolerance:.3g}"
            if t.note:
                reason += f". {t.note}"
        out.append(Outcome(t.name, t.trial, t.statistic, _unit(t), t.published, v.value, v.lo, v.hi, v.n,
                           t.tolerance, t.tolerance_basis, within, t.source, reason))  # fmt: skip
    return out


def _unit(t: Target) -> str:
    """What an outcome's numbers are: a proportion, a ratio, ng/mL or a time unit."""
    if t.is_rate:
        return "proportion"
    return {"hazard_ratio": "ratio", "mean": "ng/mL"}.get(t.statistic, t.unit)


#: Scale of the distance's Cauchy loss, in tolerances: beyond it, a target's pull weakens.
Z_SOFT = 5.0
#: Scale of the Welsch loss, in tolerances: beyond about twice it a target no longer pulls.
Z_WELSCH = 1.5
LOSSES = ("cauchy", "welsch")


def check_loss(kind: str) -> None:
    """Raise ValueError naming the accepted losses if ``kind`` is not one."""
    if kind not in LOSSES:
        raise ValueError(f"loss = {kind!r} is not accepted; accepted values: {', '.join(LOSSES)}")


def loss(z: float, kind: str = "cauchy") -> float:
    """ρ(z) of a target z tolerances from its published value; both are z² near it.

    ``cauchy``: Z_SOFT² · ln(1 + z²/Z_SOFT²), growing logarithmically far away, so that a far-off
    target moving closer still counts. ``welsch``: Z_WELSCH² · (1 − exp(−z²/Z_WELSCH²)), a
    redescending loss (Dennis & Welsch, Commun Stat Simul Comput 1978;7:345) that saturates: a
    target the model cannot reach stops pulling, and the fit spends itself on the targets near
    their bands, which is what the share within tolerance counts.
    """
    check_loss(kind)
    if kind == "cauchy":
        return Z_SOFT**2 * math.log1p((z / Z_SOFT) ** 2)
    return Z_WELSCH**2 * -math.expm1(-((z / Z_WELSCH) ** 2))


def distance(outcomes: Iterable[Outcome], targets: Iterable[Target], kind: str = "cauchy") -> float:
    """Fitting distance: mean over fitted targets of ρ(z) (:func:`loss`), z = (sim − pub)/tol, a
    missing value counted as z = Z_SOFT.

    Scaled by the tolerance so that every target weighs by how precisely it is known. The default
    Cauchy loss is z² near the target and grows only logarithmically far from it: one target the
    model cannot reach does not dominate the rest, yet moving a far-off target closer still lowers
    the distance (a hard cap at 5 tolerances, used before, left the fit blind to later-line PFS
    three times too long).
    """
    check_loss(kind)  # even when no target is fitted
    fit = {t.name for t in targets if t.fit}
    terms = []
    for o in outcomes:
        if o.name not in fit:
            continue
        z = (o.simulated - o.published) / o.tolerance if math.isfinite(o.simulated) else Z_SOFT
        terms.append(loss(z, kind))
    return float(sum(terms) / max(len(terms), 1))
