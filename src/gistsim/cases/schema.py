"""The case file format (YAML): an observed course, with unknowns given as ranges."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, field_validator, model_validator

from gistsim.clinic.cohort import BaselineSpec, PrimarySite, Range
from gistsim.clinic.drugs import drug_names
from gistsim.clinic.strategy import Organ
from gistsim.validation import builtin_documents, load_document, validate


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
    site: PrimarySite
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
    drug: str | None = None
    """The drug the response and the focal progression happened on (the first line, whatever its
    dose); ``None``: any. Without it a strategy that starts some drivers on another drug (PDGFRA
    D842V on avapritinib) lets patients unlike the case match."""

    @field_validator("drug")
    @classmethod
    def _drug(cls, v: str | None) -> str | None:
        if v is not None and v not in drug_names():
            raise ValueError(f"{v!r} is not a drug; accepted values: {', '.join(drug_names())}")
        return v


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
    return load_document(Case, source, kind="case", kinds="cases", builtins=builtin_cases())


@lru_cache(maxsize=1)
def builtin_cases() -> dict[str, Case]:
    """Built-in cases by name."""
    return {name: validate(Case, raw, f"built-in case {name}") for name, raw in builtin_documents("cases").items()}
