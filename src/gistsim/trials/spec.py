"""Population and trial specifications (YAML), validated.

A population says how to draw virtual patients (genotypes with their primary sites, age, sex,
lesions, PK variability); a trial says which population, how many patients, which arms
(strategies), the horizon, visit schedule, seed and block size, when patients are randomised, and
which records to keep beside the rows. Built-ins live in ``data/populations/`` and
``data/trials/``; unknown keys and bad values are errors naming the field and the accepted values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from gistsim.biology.genotypes import default_registry
from gistsim.cases.schema import RangeModel
from gistsim.clinic.cohort import BaselineSpec, PrimarySite
from gistsim.clinic.strategy import Organ, Strategy, load_strategy
from gistsim.validation import builtin_documents, load_document, validate


class Population(BaseModel):
    """How to draw patients at the start of treatment."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    driver_probabilities: dict[str, NonNegativeFloat]
    """Driver name → probability (normalised)."""
    age_years: RangeModel
    lesion_organs: dict[Organ, NonNegativeFloat]
    """Organ → probability, drawn for each lesion."""
    lesion_count: RangeModel
    lesion_diameter_mm: RangeModel
    primary_site_probabilities: dict[PrimarySite, NonNegativeFloat] | None = None
    """Site of the primary tumour → probability (normalised), for the drivers without their own
    in ``primary_site_by_driver``. Omitted: sites are not drawn (the ``primary_site`` column is empty)."""
    primary_site_by_driver: dict[str, dict[PrimarySite, NonNegativeFloat]] = Field(default_factory=dict)
    """Driver → its own site distribution: the joint law of genotype and site, written the way the
    sources state it (KIT exon 9 tumours arise in the small bowel, PDGFRA D842V in the stomach), so
    that the population's driver mix stays ``driver_probabilities`` whatever the sites."""
    male_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    """Probability that a patient is male. Omitted: sex is not drawn."""
    pk_iiv_cv: dict[str, dict[Literal["clearance", "volume"], NonNegativeFloat]] = Field(default_factory=dict)
    """Drug → between-patient CV of its clearance and/or volume, in place of the drug catalogue's
    (``data/drugs.yaml``, with its sources) for this population."""

    @model_validator(mode="after")
    def _drivers(self) -> Population:
        names = [d.name for d in default_registry().drivers]
        for field, keys in (("driver_probabilities", self.driver_probabilities), ("primary_site_by_driver", self.primary_site_by_driver)):
            for d in keys:
                if d not in names:
                    raise ValueError(f"{field} key {d!r} is not a known driver; accepted values: {', '.join(names)}")
        if sum(self.driver_probabilities.values()) <= 0 or sum(self.lesion_organs.values()) <= 0:
            raise ValueError("driver_probabilities and lesion_organs need a positive total")
        tables = {f"primary_site_by_driver.{d}": t for d, t in self.primary_site_by_driver.items()}
        if self.primary_site_probabilities is not None:
            tables["primary_site_probabilities"] = self.primary_site_probabilities
        for field, table in tables.items():
            if sum(table.values()) <= 0:
                raise ValueError(f"{field} needs a positive total")
        drawn = [d for d, p in self.driver_probabilities.items() if p > 0]
        missing = [d for d in drawn if d not in self.primary_site_by_driver]
        if self.primary_site_by_driver and self.primary_site_probabilities is None and missing:
            raise ValueError(f"primary_site_by_driver has no entry for {', '.join(missing)}, and "
                             "primary_site_probabilities (the sites of the other drivers) is not given")  # fmt: skip
        from gistsim.clinic.drugs import drug_names

        for drug in self.pk_iiv_cv:
            if drug not in drug_names():
                raise ValueError(f"pk_iiv_cv key {drug!r} is not a known drug; accepted values: {', '.join(drug_names())}")
        return self

    def to_spec(self) -> BaselineSpec:
        return BaselineSpec(
            driver_probabilities=dict(self.driver_probabilities),
            age_years=self.age_years.to_range(),
            lesion_organ=dict(self.lesion_organs),
            lesion_count=self.lesion_count.to_range(),
            lesion_diameter_mm=self.lesion_diameter_mm.to_range(),
            primary_site=None if self.primary_site_probabilities is None else dict(self.primary_site_probabilities),
            primary_site_by_driver={d: dict(t) for d, t in self.primary_site_by_driver.items()} or None,
            male_probability=self.male_probability,
            pk_iiv_cv={d: dict(c) for d, c in self.pk_iiv_cv.items()} or None,
        )


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    strategy: str
    """A built-in strategy name or a strategy YAML file."""

    def load(self) -> Strategy:
        return load_strategy(self.strategy)


class Trial(BaseModel):
    """An in-silico trial: arms applied to the same virtual patients."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    population: str
    """A built-in population name or a population YAML file."""
    patients: PositiveInt
    seed: NonNegativeInt = 0
    block_size: PositiveInt = 500
    horizon_years: PositiveFloat = 10.0
    visit_days: PositiveFloat = 84.0
    randomise_at: Literal["start", "focal_progression", "landmark"] = "start"
    """``start``: every patient is compared from day 0. ``focal_progression``: patients whose first
    progression is focal are compared from that day. ``landmark``: patients alive and free of
    progression at the first visit on or after ``landmark_years`` are compared from that visit
    (BFR14). The arms must treat patients alike before the time of randomisation; at focal
    progression the other arms take the patients on from the first arm's course, so its history is
    theirs, and a trial whose arms would act differently before a first progression is refused."""
    landmark_years: PositiveFloat | None = None
    """Required with ``randomise_at: landmark``."""
    parameter_set: Literal["calibrated", "priors"] = "calibrated"
    """``calibrated``: the shipped defaults; ``priors``: the data files' values before calibration."""
    parameters: dict[str, float] = Field(default_factory=dict)
    """Values set over the parameter set, by dotted name (e.g. ``evolution.birth_rate_per_day``)."""
    arms: list[Arm] = Field(min_length=1)
    rmst_horizon_years: PositiveFloat = 5.0
    records: list[Literal["visits", "lesions"]] = Field(default_factory=list)
    """Records to keep beside the rows (:mod:`gistsim.trials.records`): ``visits`` (readings,
    target sum and regimen at every visit) and/or ``lesions`` (every lesion imaging saw at every
    visit). None by default: in the default trial a block's lesion records take ~3 times the disk
    space of its rows, its visit records about as much as its rows."""

    @model_validator(mode="after")
    def _check(self) -> Trial:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique; got {names}")
        if len(set(self.records)) != len(self.records):
            raise ValueError(f"records lists a kind twice: {self.records}; accepted values: visits, lesions, once each")
        if (self.randomise_at == "landmark") != (self.landmark_years is not None):
            raise ValueError(
                f"randomise_at = {self.randomise_at!r} with landmark_years = {self.landmark_years!r}: "
                "landmark_years is required with randomise_at 'landmark' and accepted only with it"
            )
        if self.parameters:
            from gistsim.model import Model

            try:
                Model.build(self.parameter_set, self.parameters)
            except KeyError as err:
                raise ValueError(f"parameters: {err.args[0]}") from None
        strategies = [arm.load() for arm in self.arms]
        population = load_population(self.population)
        if self.randomise_at == "focal_progression":
            _check_alike_until_focal(self.arms, strategies, population)
        return self


def _check_alike_until_focal(arms: list[Arm], strategies: list[Strategy], population: Population) -> None:
    """Refuse arms that would treat a patient differently before a focal-progression randomisation.

    The other arms take the randomised patients on from the first arm's course at their first
    progression (``gistsim.clinic.lanes``), so what an arm would have done differently before then
    would be silently replaced by the first arm's history. Only the population's drivers count: a
    genotype-directed start for a driver nobody has changes nothing."""
    first = strategies[0]
    if first.focal_progression is None:
        raise ValueError(
            f"randomise_at = 'focal_progression' needs the first arm's strategy to define focal_progression "
            f"(it decides who is randomised, and when); arm {arms[0].name!r} has strategy {first.name!r}, which "
            "does not: put an arm whose strategy has a focal_progression rule first"
        )
    drivers = sorted(d for d, p in population.driver_probabilities.items() if p > 0)
    reference = first.before_first_progression(drivers)
    for arm, strategy in zip(arms[1:], strategies[1:]):
        mine = strategy.before_first_progression(drivers)
        differ = [f"{rule}: {mine[rule]} against {reference[rule]}" for rule in reference if mine[rule] != reference[rule]]
        if differ:
            raise ValueError(
                f"arm {arm.name!r} (strategy {strategy.name!r}) treats patients differently from the first arm "
                f"{arms[0].name!r} (strategy {first.name!r}) before their first progression, in "
                + "; ".join(differ)
                + ". With randomise_at 'focal_progression' every arm takes the randomised patients on from the "
                "first arm's course, so the arms must act alike until then"
            )


def load_population(source: str | Path | dict) -> Population:
    return load_document(Population, source, kind="population", kinds="populations", builtins=builtin_populations())


@lru_cache(maxsize=1)
def builtin_populations() -> dict[str, Population]:
    return {n: validate(Population, raw, f"built-in population {n}") for n, raw in builtin_documents("populations").items()}


def load_trial(source: str | Path | dict) -> Trial:
    return load_document(Trial, source, kind="trial", kinds="trials", builtins=builtin_trials())


@lru_cache(maxsize=1)
def builtin_trials() -> dict[str, Trial]:
    return {n: validate(Trial, raw, f"built-in trial {n}") for n, raw in builtin_documents("trials").items()}


DEFAULT_TRIAL = "focal-progression"
