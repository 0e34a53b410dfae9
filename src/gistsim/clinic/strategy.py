"""Treatment strategies: the rules that decide, at each visit, what happens next.

A strategy is declared in YAML and validated here: unknown keys and bad values are errors that
name the field and list the accepted values. Built-in strategies live in ``data/strategies/``.

What a strategy can say (DESIGN §4):

* ``start``: the first regimen, with genotype-directed overrides (``start_by_driver``: e.g. KIT
  exon 9 → imatinib 800 mg, PDGFRA D842V → avapritinib);
* ``sequence``: the regimens taken on successive progressions (imatinib 400 → 800 mg →
  sunitinib → regorafenib → ripretinib); after the last one, best supportive care;
* ``focal_progression``: at progression by at most ``max_progressing_lesions`` lesions, all in
  resectable organs, ``action``: ``resect`` them and continue the current regimen (the founding
  case), ``continue`` the regimen without surgery, or ``switch`` to ``switch_to``;
* ``residual_resection``: at best response, resect all remaining visible lesions if few enough
  and all resectable;
* ``stop``: stop the drug after N years without progression and restart it on progression (BFR14);
* ``beyond_last``: at progression on the last regimen, stop it (best supportive care) or continue it;
* ``available_from_years``: regimens of the sequence that did not exist yet when a trial began
  (sunitinib for the first-line imatinib trials of 2000–2002): at progression the current regimen
  continues beyond progression until the next one is available, which starts at the first visit
  from then.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from gistsim.biology.genotypes import default_registry
from gistsim.validation import builtin_documents, load_document, validate

#: Organs where lesions can sit. Liver segments/lobes are named by ``site`` on the lesion, not here.
Organ = Literal["liver", "peritoneum", "primary_site", "lung", "bone", "lymph_node"]
#: The same organs as a tuple; lesion arrays store an organ as an index into it.
ORGANS: tuple[str, ...] = get_args(Organ)


def regimen_names() -> list[str]:
    """Names of the regimens in the drug catalogue."""
    from gistsim.clinic.drugs import regimen_names as names

    return list(names())


def _check_regimen(field: str, value: str) -> str:
    names = regimen_names()
    if value not in names:
        raise ValueError(f"{field} = {value!r} is not a known regimen; accepted values: {', '.join(names)}")
    return value


class FocalProgression(BaseModel):
    """What to do when few lesions escape: resect them, continue, or switch regimen."""

    model_config = ConfigDict(extra="forbid")
    max_progressing_lesions: PositiveInt = 1
    """Progression counts as focal when at most this many lesions progress (k in DESIGN §4)."""
    resectable_organs: list[Organ] = Field(default_factory=lambda: ["liver"])
    """…and every progressing lesion sits in one of these organs (so the definition of focal
    progression is the same whatever the action, as a trial randomising at it needs)."""
    action: Literal["resect", "continue", "switch"] = "resect"
    """``resect`` the progressing lesions and continue; ``continue`` unchanged; ``switch`` to
    ``switch_to``."""
    switch_to: str | None = None
    """Regimen for ``action: switch``."""
    max_operations: PositiveInt | None = None
    """With ``action: resect``: operate for focal progression at most this many times per patient;
    a later focal progression is treated as any other progression (next regimen). ``None``: no
    limit. Below the limit, each operation after the first happens with the clinic's
    ``surgery.reoperation_probability`` (whether the patient can be operated on again)."""

    @model_validator(mode="after")
    def _switch_target(self) -> FocalProgression:
        if (self.action == "switch") != (self.switch_to is not None):
            raise ValueError(
                f"action = {self.action!r} with switch_to = {self.switch_to!r}: switch_to is required with "
                "action 'switch' and accepted only with it"
            )
        if self.switch_to is not None:
            _check_regimen("switch_to", self.switch_to)
        if self.max_operations is not None and self.action != "resect":
            raise ValueError(
                f"max_operations = {self.max_operations} with action = {self.action!r}: max_operations limits "
                "operations and is accepted only with action 'resect'"
            )
        return self


class ResidualResection(BaseModel):
    """Resect all remaining visible disease at best response."""

    model_config = ConfigDict(extra="forbid")
    max_lesions: PositiveInt = 3
    """Only when at most this many lesions are still visible."""
    resectable_organs: list[Organ] = Field(default_factory=lambda: ["liver", "peritoneum"])
    """Every visible lesion must sit in one of these organs."""
    min_months_on_drug: PositiveFloat = 6.0
    """Not before this long on the current regimen."""
    plateau_visits: PositiveInt = 2
    """Best response is taken as reached when the sum of diameters has fallen by less than 10%
    over this many consecutive visits."""


class StopRule(BaseModel):
    """Stop the drug after some years without progression (BFR14)."""

    model_config = ConfigDict(extra="forbid")
    after_years: PositiveFloat
    """Years on the first regimen without progression before stopping."""
    restart_on_progression: bool = True
    """Restart the same regimen on progression off drug (progression still counts as an event)."""


class Strategy(BaseModel):
    """A treatment strategy; see the module docstring."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    start: str
    """First regimen unless ``start_by_driver`` names the patient's driver."""
    start_by_driver: dict[str, str] = Field(default_factory=dict)
    """Driver name → first regimen."""
    sequence: list[str] = Field(default_factory=list)
    """Regimens on successive progressions; a patient starting on a regimen of this list continues
    from the entry after it, otherwise from the first entry."""
    sequence_by_driver: dict[str, list[str]] = Field(default_factory=dict)
    """Driver name → its own sequence (e.g. PDGFRA D842V, resistant to imatinib and sunitinib)."""
    focal_progression: FocalProgression | None = None
    residual_resection: ResidualResection | None = None
    stop: StopRule | None = None
    beyond_last: Literal["stop", "continue"] = "stop"
    """At progression on the last regimen of the sequence: ``stop`` (best supportive care) or
    ``continue`` it (treatment beyond progression, common practice once no line is left: stopping
    a TKI lets its still-sensitive clones regrow)."""

    available_from_years: dict[str, PositiveFloat] = Field(default_factory=dict)
    """Regimen → years after the patient's start from which it can be given (a drug approved after
    the trial accrued). Switches for intolerance are not held back: the trials managed
    intolerance by dose reduction, and the few who left the drug for good are switched as in
    later practice rather than left untreated."""

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        return _check_regimen("start", v)

    @field_validator("sequence")
    @classmethod
    def _sequence(cls, v: list[str]) -> list[str]:
        return [_check_regimen(f"sequence[{i}]", r) for i, r in enumerate(v)]

    @field_validator("start_by_driver")
    @classmethod
    def _by_driver(cls, v: dict[str, str]) -> dict[str, str]:
        drivers = [d.name for d in default_registry().drivers]
        for driver, reg in v.items():
            if driver not in drivers:
                raise ValueError(
                    f"start_by_driver key {driver!r} is not a known driver; accepted values: {', '.join(drivers)}"
                )
            _check_regimen(f"start_by_driver[{driver}]", reg)
        return v

    @field_validator("sequence_by_driver")
    @classmethod
    def _seq_by_driver(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        drivers = [d.name for d in default_registry().drivers]
        for driver, seq in v.items():
            if driver not in drivers:
                raise ValueError(
                    f"sequence_by_driver key {driver!r} is not a known driver; accepted values: {', '.join(drivers)}"
                )
            for i, r in enumerate(seq):
                _check_regimen(f"sequence_by_driver[{driver}][{i}]", r)
        return v

    @model_validator(mode="after")
    def _no_duplicate_sequence(self) -> Strategy:
        for seq in [self.sequence, *self.sequence_by_driver.values()]:
            if len(set(seq)) != len(seq):
                raise ValueError(f"sequence repeats a regimen: {seq}")
        return self

    @model_validator(mode="after")
    def _available_in_sequence(self) -> Strategy:
        listed = list(dict.fromkeys(r for seq in [self.sequence, *self.sequence_by_driver.values()] for r in seq))
        for reg in self.available_from_years:
            if reg not in listed:
                raise ValueError(
                    f"available_from_years key {reg!r} is not in the strategy's sequence; accepted values: "
                    f"{', '.join(listed) or 'none (the sequence is empty)'}"
                )
        return self

    def available(self, regimen: str, days_on_strategy: float) -> bool:
        """Whether ``regimen`` can be started ``days_on_strategy`` days after the patient's start."""
        years = self.available_from_years.get(regimen)
        return years is None or days_on_strategy >= years * 365.25 - 1e-6

    def first_regimen(self, driver: str) -> str:
        """Regimen a patient with this driver starts on."""
        return self.start_by_driver.get(driver, self.start)

    def next_regimen(self, current: str, *, other_drug: bool = False, driver: str | None = None) -> str | None:
        """Regimen after progression on ``current`` (None: best supportive care).

        The driver's own sequence is used when the strategy gives one. With ``other_drug``
        (stopping for intolerance), entries of the same drug are skipped: a patient who cannot
        tolerate imatinib is not escalated to a higher imatinib dose.
        """
        from gistsim.clinic.drugs import regimen

        seq = self.sequence_by_driver.get(driver, self.sequence) if driver else self.sequence
        rest = seq[seq.index(current) + 1 :] if current in seq else seq
        if other_drug:
            rest = [r for r in rest if regimen(r).drug != regimen(current).drug]
        return rest[0] if rest else None

    def before_first_progression(self, drivers: list[str]) -> dict[str, object]:
        """What the strategy does to a patient with one of ``drivers`` before the patient's first
        progression, rule by rule (keys name the fields), so that two strategies can be compared
        where a trial randomised at focal progression needs them alike (``clinic.decisions``: until
        then only the first regimen, switches for intolerance, residual resection and the stop rule
        can act; the sequence's other entries, ``beyond_last``, ``available_from_years`` and the
        focal action wait for a progression)."""
        def after_intolerance(driver: str) -> list[str]:
            chain, current = [], self.first_regimen(driver)
            # next_regimen only moves forward through a sequence of distinct regimens: this ends.
            while (current := self.next_regimen(current, other_drug=True, driver=driver)) is not None:
                chain.append(current)
            return chain

        return {
            **{f"first regimen for {d} (start, start_by_driver)": self.first_regimen(d) for d in drivers},
            **{f"regimens after intolerance for {d} (sequence, sequence_by_driver)": after_intolerance(d) for d in drivers},
            "residual_resection": self.residual_resection and self.residual_resection.model_dump(),
            "stop": self.stop and self.stop.model_dump(),
        }


def load_strategy(source: str | Path | dict) -> Strategy:
    """A strategy from a built-in name, a YAML file path, or a parsed mapping."""
    return load_document(Strategy, source, kind="strategy", kinds="strategies", builtins=builtin_strategies())


@lru_cache(maxsize=1)
def _builtin_raw() -> dict[str, dict]:
    return builtin_documents("strategies")


def builtin_strategies() -> dict[str, Strategy]:
    """Built-in strategies by name."""
    return {name: validate(Strategy, raw, f"built-in strategy {name}") for name, raw in _builtin_raw().items()}
