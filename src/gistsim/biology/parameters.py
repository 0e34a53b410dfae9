"""Uncertain kinetic and evolutionary parameters, each with a prior and its source.

Values live in ``data/evolution.yaml``; this module validates that file (pydantic) and samples
from the priors. Nothing here is a silent constant: an uncertain number is a :class:`Parameter`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from gistsim._data import load_yaml


class LogNormalPrior(BaseModel):
    """log(X) ~ Normal(log(median), sigma_log)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["lognormal"]
    median: PositiveFloat
    sigma_log: PositiveFloat

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return self.median * np.exp(self.sigma_log * rng.standard_normal(size))


class UniformPrior(BaseModel):
    """X ~ Uniform(low, high)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["uniform"]
    low: float
    high: float

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return rng.uniform(self.low, self.high, size)


Prior = Annotated[LogNormalPrior | UniformPrior, Field(discriminator="kind")]


class Parameter(BaseModel):
    """A value used by default, the prior it is drawn from when uncertainty matters, and its source."""

    model_config = ConfigDict(extra="forbid")
    value: float
    prior: Prior
    source: str = Field(min_length=1)


class EvolutionParameters(BaseModel):
    """Kinetics of GIST cells and their mutation."""

    model_config = ConfigDict(extra="forbid")
    mutation_rate_per_bp_per_division: Parameter
    birth_rate_per_day: Parameter
    net_growth_rate_per_day: Parameter
    cells_per_cm3: Parameter

    def values(self) -> dict[str, float]:
        """Name → value."""
        return {name: getattr(self, name).value for name in type(self).model_fields}

    def sample(self, rng: np.random.Generator) -> EvolutionParameters:
        """A copy with every value drawn from its prior.

        The net growth rate is redrawn until it is below the birth rate, since the death rate
        (birth − net) must stay positive.
        """
        new = self.model_copy(deep=True)
        for name in type(self).model_fields:
            par = getattr(new, name)
            par.value = float(par.prior.sample(rng))
        while new.net_growth_rate_per_day.value >= new.birth_rate_per_day.value:
            new.net_growth_rate_per_day.value = float(new.net_growth_rate_per_day.prior.sample(rng))
        return new

    @property
    def death_rate_per_day(self) -> float:
        """Untreated death rate: birth − net growth."""
        return self.birth_rate_per_day.value - self.net_growth_rate_per_day.value


@lru_cache(maxsize=1)
def _default() -> EvolutionParameters:
    return EvolutionParameters.model_validate(load_yaml("evolution.yaml"))


def default_evolution() -> EvolutionParameters:
    """The shipped parameter set (a fresh copy each call, safe to modify)."""
    return _default().model_copy(deep=True)
