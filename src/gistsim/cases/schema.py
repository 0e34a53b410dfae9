"""The case file format (YAML): an observed course, with unknowns given as ranges."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, model_validator

from gistsim.clinic.cohort import BaselineSpec, Range
from gistsim.clinic.strategy import Organ
from gistsim.validation import validate


class RangeModel(BaseModel):
    """An unknown value: drawn uniformly (or log-uniformly) between ``low`` and ``high``."""

    model_config = ConfigDict(extra="forbid")
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeModel:
        if self.low > self.high:
            raise ValueError(f"low = {self.low} must not exceed high = {self.high}")
        return self

    def to_range(self) -> Range:
        return Range(self.low, self.high, self.log)


class Primary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Literal["stomach", "duodenum", "jejunum_ileum", "colon_rectum", "oesophagus", "other"]
    resected: bool = True
    size_cm: RangeModel | float | None = None
    mitoses_per_50hpf: RangeModel | float | None = None
    genotype: str | None = None


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    driver_probabilities: dict[str, NonNegativeFloat]
    age_years: RangeModel
    lesion_organ: Organ
    lesion_count: RangeModel
    lesion_diameter_mm: RangeModel

    def to_spec(self) -> BaselineSpec:
        return BaselineSpec(
            driver_probabilities=dict(self.driver_probabilities),
            age_years=self.age_years.to_range(),
            lesion_organ=self.lesion_organ,
            lesion_count=self.lesion_count.to_range(),
            lesion_diameter_mm=self.lesion_diameter_mm.to_range(),
        )


class Treatment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: str


class Observed(BaseModel):
    """The observed course the replay must reproduce (months from the start of the first drug)."""

    model_config = ConfigDict(extra="forbid")
    best_response: Literal["CR", "PR"]
    cr_duration_months: RangeModel
    focal_progression_lesions: PositiveInt
    focal_progression_organ: Organ
    progression_free_after_resection_months: NonNegativeFloat


class Case(BaseModel):
    """A published or user's case."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    reference: str = ""
    summary: str = ""
    primary: Primary
    baseline: Baseline
    treatment: Treatment
    observed: Observed


def load_case(source: str | Path) -> Case:
    """A case from a built-in name or a YAML file."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return validate(Case, yaml.safe_load(path.read_text(encoding="utf-8")), f"case file {path}")
    cases = builtin_cases()
    if str(source) in cases:
        return cases[str(source)]
    raise ValueError(
        f"case {str(source)!r} is neither a YAML file nor a built-in case; built-in cases: {', '.join(sorted(cases))}"
    )


@lru_cache(maxsize=1)
def builtin_cases() -> dict[str, Case]:
    folder = resources.files("gistsim.data").joinpath("cases")
    out = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            case = validate(Case, yaml.safe_load(item.read_text(encoding="utf-8")), f"built-in case {item.name}")
            out[case.name] = case
    return out
