"""Published targets (``data/calibration/targets.yaml``): what each study reported and how to compute it.

A target names the built-in trial mirroring its study, an arm, the patients it concerns
(``where``: column → accepted values, on the result rows and the columns
:func:`gistsim.calibration.statistics.derive` adds), and the statistic:

* ``proportion``: share of rows whose ``column`` is in ``values`` (or ≥ ``at_least``), rows with a
  value in ``exclude`` left out (e.g. not evaluable);
* ``median``: Kaplan–Meier median of ``endpoint``; ``survival_at`` / ``progressed_by``: the
  Kaplan–Meier probability of being event-free (of having had the event) at ``at``;
* ``hazard_ratio``: Cox hazard ratio of ``arm`` against ``reference_arm`` on ``endpoint``;
* ``mean``: mean of ``column``.

Tolerance (the band a simulated value must fall in): proportions and landmark rates ±5 points,
medians and means ±15%, hazard ratios ±0.1 — widened to the study's own 95% interval where it is
wider: its reported ``ci``, or from its size ``n`` (Wilson interval for a proportion; for a median
the exponential-model interval ×exp(±1.96/√n), all n patients having the event).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from gistsim._data import load_yaml
from gistsim.validation import validate

Statistic = Literal["proportion", "median", "survival_at", "progressed_by", "hazard_ratio", "mean"]
Unit = Literal["days", "weeks", "months", "years"]
#: Days per unit.
UNIT_DAYS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
#: Default tolerances: absolute for rates, relative for times and means, absolute for hazard ratios.
RATE_TOLERANCE, RELATIVE_TOLERANCE, HR_TOLERANCE = 0.05, 0.15, 0.10


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    trial: str
    arm: str | list[str]
    """The arm, or several arms pooled (a paper reporting both doses together)."""
    statistic: Statistic
    published: float
    source: str = Field(min_length=1)
    where: dict[str, list[str | bool | int]] = Field(default_factory=dict)
    column: str | None = None
    values: list[str | bool | int] | None = None
    at_least: int | None = None
    exclude: list[str] = Field(default_factory=list)
    endpoint: str | None = None
    at: PositiveFloat | None = None
    unit: Unit = "months"
    reference_arm: str | None = None
    n: PositiveInt | None = None
    ci: tuple[float, float] | None = None
    fit: bool = True
    follow_up: PositiveFloat | None = None
    """For a best-response proportion: only responses first read within this follow-up (in
    ``unit``) count, as at the study's data cut; a later CR or PR counts as what came before it."""
    note: str = ""
    """Why the model may miss this target (shown with the verdict when it is outside)."""

    @property
    def arms(self) -> list[str]:
        """The arms whose patients the target pools (one, usually)."""
        return [self.arm] if isinstance(self.arm, str) else list(self.arm)

    @model_validator(mode="after")
    def _needs(self) -> Target:
        need = {
            "proportion": ["column"], "mean": ["column"], "median": ["endpoint"],
            "survival_at": ["endpoint", "at"], "progressed_by": ["endpoint", "at"],
            "hazard_ratio": ["endpoint", "reference_arm"],
        }[self.statistic]  # fmt: skip
        if self.statistic == "hazard_ratio" and not isinstance(self.arm, str):
            raise ValueError(f"target {self.name!r}: a hazard ratio compares one arm with reference_arm; got arm {self.arm!r}")
        if not isinstance(self.arm, str) and not self.arm:
            raise ValueError(f"target {self.name!r}: arm is an empty list; give an arm or the arms to pool")
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"target {self.name!r}: statistic {self.statistic!r} needs {', '.join(missing)}")
        if self.statistic == "proportion" and (self.values is None) == (self.at_least is None):
            raise ValueError(f"target {self.name!r}: a proportion needs exactly one of values, at_least")
        if self.follow_up is not None and not (self.statistic == "proportion" and self.column == "best_response"):
            raise ValueError(
                f"target {self.name!r}: follow_up applies to a proportion of column best_response; "
                f"got statistic {self.statistic!r}, column {self.column!r}"
            )
        return self

    @property
    def is_rate(self) -> bool:
        return self.statistic in ("proportion", "survival_at", "progressed_by")

    @property
    def tolerance(self) -> float:
        """Half-width of the band around the published value (in its own units)."""
        return max(self._default_tolerance(), self._study_tolerance())

    @property
    def tolerance_basis(self) -> str:
        """What set the tolerance: the study's precision, or the default where that is wider."""
        if self.ci is not None:
            study = f"study 95% CI {self.ci[0]:g}–{self.ci[1]:g}"
        elif self.n is not None:
            study = f"study size n = {self.n}"
        else:
            return "default"
        return study if self._study_tolerance() >= self._default_tolerance() else f"default, wider than {study}'s"

    def _default_tolerance(self) -> float:
        if self.statistic == "hazard_ratio":
            return HR_TOLERANCE
        return RATE_TOLERANCE if self.is_rate else RELATIVE_TOLERANCE * abs(self.published)

    def _study_tolerance(self) -> float:
        p = self.published
        if self.ci is not None:
            return max(p - self.ci[0], self.ci[1] - p)
        if self.n is not None and self.is_rate:
            lo, hi = wilson_interval(p, self.n)
            return max(p - lo, hi - p)
        if self.n is not None:
            # A median or mean from n patients: the log-scale 95% half-width 1.96/sqrt(n), as for
            # an exponential median with n events (n patients bound the events from above).
            return p * math.expm1(1.96 / math.sqrt(self.n))
        return 0.0


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95% interval of a proportion p observed in n."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


class TargetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    targets: list[Target] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TargetFile:
        names = [t.name for t in self.targets]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"target names must be unique; repeated: {', '.join(dup)}")
        return self


@lru_cache(maxsize=1)
def builtin_targets() -> tuple[Target, ...]:
    """The shipped targets, validated (trials and arms checked against the built-in trials)."""
    from gistsim.trials.spec import load_trial

    targets = validate(TargetFile, load_yaml("calibration/targets.yaml"), "calibration targets").targets
    for t in targets:
        trial = load_trial(t.trial)
        arms = [a.name for a in trial.arms]
        for arm in [*t.arms, t.reference_arm]:
            if arm is not None and arm not in arms:
                raise ValueError(f"target {t.name!r}: arm {arm!r} is not an arm of trial {t.trial}; accepted values: {arms}")
    return tuple(targets)
