"""Uncertain kinetic and evolutionary parameters, each with a prior and its source.

Values live in ``data/evolution.yaml``; this module validates that file (pydantic) and samples
from the priors. Nothing here is a silent constant: an uncertain number is a :class:`Parameter`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator


class LogNormalPrior(BaseModel):
    """log(X) ~ Normal(log(median), sigma_log)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["lognormal"]
    median: PositiveFloat
    sigma_log: PositiveFloat

    @property
    def top(self) -> float:
        """The largest value in the support: none (inf)."""
        return np.inf

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return self.median * np.exp(self.sigma_log * rng.standard_normal(size))

    def check(self, name: str, value: float) -> None:
        """Raise unless ``value`` lies in the prior's support (a lognormal's is the positive numbers)."""
        if not value > 0.0:
            raise ValueError(f"parameter {name!r} = {value!r} is not accepted: its prior is lognormal, "
                             "accepted values are > 0")  # fmt: skip


class UniformPrior(BaseModel):
    """X ~ Uniform(low, high)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["uniform"]
    low: float
    high: float

    @property
    def top(self) -> float:
        """The largest value in the support."""
        return self.high

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return rng.uniform(self.low, self.high, size)

    def check(self, name: str, value: float) -> None:
        """Raise unless ``value`` lies in [low, high]: the prior is the range the model is meant for
        (e.g. a fitness cost above 1 would make resistant cells outgrow their parent)."""
        if not self.low <= value <= self.high:
            raise ValueError(f"parameter {name!r} = {value!r} is not accepted: its prior is uniform, "
                             f"accepted values are {self.low:g} to {self.high:g}")  # fmt: skip


Prior = Annotated[LogNormalPrior | UniformPrior, Field(discriminator="kind")]


class Parameter(BaseModel):
    """A value used by default, the prior it is drawn from when uncertainty matters, and its source."""

    model_config = ConfigDict(extra="forbid")
    value: float
    prior: Prior
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _value_in_support(self) -> Parameter:
        self.prior.check("value", self.value)
        return self


class ParameterSet(BaseModel):
    """A named group of :class:`Parameter` fields (or nested groups), validated strictly."""

    model_config = ConfigDict(extra="forbid")

    def values(self) -> dict[str, object]:
        """Name → value (nested groups give nested dicts)."""
        out: dict[str, object] = {}
        for name in type(self).model_fields:
            item = getattr(self, name)
            out[name] = item.values() if isinstance(item, ParameterSet) else item.value
        return out

    def sample(self, rng: np.random.Generator) -> ParameterSet:
        """A copy with every value drawn from its prior."""
        new = self.model_copy(deep=True)
        new._draw(rng)
        return new

    def _draw(self, rng: np.random.Generator) -> None:
        for name in type(self).model_fields:
            item = getattr(self, name)
            if isinstance(item, ParameterSet):
                item._draw(rng)
            else:
                item.value = float(item.prior.sample(rng))


class EvolutionParameters(ParameterSet):
    """Kinetics of GIST cells and their mutation."""

    mutation_rate_per_bp_per_division: Parameter
    birth_rate_per_day: Parameter
    net_growth_rate_per_day: Parameter
    cells_per_cm3: Parameter
    kinetics_iiv_sigma_log: Parameter
    growth_half_volume_cm3: Parameter
    kill_slowing_exponent: Parameter
    escape_target_bp: Parameter
    escape_relative_growth: Parameter
    secondary_relative_growth: Parameter
    escape_growth_iiv_sigma_log: Parameter
    kill_iiv_sigma_log: Parameter
    indolent_fraction: Parameter
    indolent_pace: Parameter
    lesion_pace_sigma_log: Parameter
    tolerance_rate_per_day: Parameter
    tolerance_kill_floor: Parameter
    tolerance_kill_floor_wild_type: Parameter
    secondary_growth_iiv_sigma_log: Parameter
    secondary_growth_lesion_sigma_log: Parameter
    host_kill_iiv_sigma_log: Parameter

    def _draw(self, rng: np.random.Generator) -> None:
        # The net growth rate is redrawn until it is below the birth rate: death = birth - net > 0.
        super()._draw(rng)
        while self.net_growth_rate_per_day.value >= self.birth_rate_per_day.value:
            self.net_growth_rate_per_day.value = float(self.net_growth_rate_per_day.prior.sample(rng))

    @property
    def death_rate_per_day(self) -> float:
        """Untreated death rate: birth − net growth."""
        return self.birth_rate_per_day.value - self.net_growth_rate_per_day.value

    def untreated_birth(self, registry) -> np.ndarray:
        """Untreated birth rate per genotype code: KIT-independent cells grow at
        ``escape_relative_growth`` × the net rate, cells with a secondary KIT mutation at
        ``secondary_relative_growth`` × the net rate, a clone with both at the product (same death
        rate, so the same turnover)."""
        relative = np.where(registry.bypass_carrier, self.escape_relative_growth.value, 1.0) * np.where(
            registry.kit_secondary_mask != 0, self.secondary_relative_growth.value, 1.0
        )
        return self.death_rate_per_day + self.net_growth_rate_per_day.value * relative

    def mutation_model(self, registry):
        """Secondary changes at ``mutation_rate_per_bp_per_division`` × their targets, the
        KIT-independent target being ``escape_target_bp``."""
        from gistsim.engine.rates import MutationModel

        return MutationModel.from_registry(
            registry, self.mutation_rate_per_bp_per_division.value, escape_target_bp=self.escape_target_bp.value
        )


@lru_cache(maxsize=2)
def _default(calibrated: bool) -> EvolutionParameters:
    from gistsim._calibrated import load_group

    return load_group(EvolutionParameters, "evolution.yaml", "evolution", calibrated)


def default_evolution(*, calibrated: bool = True) -> EvolutionParameters:
    """The shipped parameter set (a fresh copy each call, safe to modify).

    ``calibrated=False`` gives the data file's values, before calibration.
    """
    return _default(calibrated).model_copy(deep=True)
