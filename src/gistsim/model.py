"""Every parameter one simulation uses, under one name: evolution, clinic and potency.

``Model.build("calibrated")`` is the shipped default (the data files' values with the calibrated values of
``data/calibrated.yaml`` over them); ``Model.build("priors")`` the data files' values alone (uncalibrated). Both take
``overrides``: dotted names (``evolution.birth_rate_per_day``, ``clinic.imaging.scar_fraction``,
``potency.emax_per_day``) → values, which is how calibration tries candidate values and how a trial
spec sets its own. :meth:`Model.record` is what result files keep of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gistsim._calibrated import GROUPS, apply_values, get_parameter, group_values, shipped
from gistsim.biology.parameters import EvolutionParameters, default_evolution
from gistsim.clinic.parameters import ClinicParameters, default_clinic
from gistsim.clinic.potency import Potency, PotencyParameters, build_potency, default_potency_parameters

Base = Literal["calibrated", "priors"]


@dataclass
class Model:
    evolution: EvolutionParameters
    clinic: ClinicParameters
    potency_parameters: PotencyParameters
    name: str
    overrides: dict[str, float] = field(default_factory=dict)
    _potency: Potency | None = field(default=None, repr=False)

    @classmethod
    def build(cls, base: Base = "calibrated", overrides: dict[str, float] | None = None) -> Model:
        if base not in ("calibrated", "priors"):
            raise ValueError(f"parameter_set = {base!r}: accepted values: calibrated, priors")
        cal = base == "calibrated"
        model = cls(
            default_evolution(calibrated=cal), default_clinic(calibrated=cal),
            default_potency_parameters(calibrated=cal), shipped()["name"] if cal else "uncalibrated",
        )  # fmt: skip
        if overrides:
            model = model.with_values(overrides)
        return model

    def with_values(self, values: dict[str, float]) -> Model:
        """A copy with ``values`` (dotted names) set; unknown names raise, naming the accepted ones."""
        new = Model(
            self.evolution.model_copy(deep=True), self.clinic.model_copy(deep=True),
            self.potency_parameters.model_copy(deep=True), self.name, dict(self.overrides),
        )  # fmt: skip
        for path in values:
            group = path.split(".", 1)[0]
            if group not in GROUPS or "." not in path:
                raise KeyError(f"parameter {path!r}: a name starts with one of {', '.join(GROUPS)} and a dot")
        for group in GROUPS:
            apply_values(new._group(group), group_values(group, values), group)
        new.overrides |= {k: float(v) for k, v in values.items()}
        return new

    def _group(self, group: str):
        return {"evolution": self.evolution, "clinic": self.clinic, "potency": self.potency_parameters}[group]

    def value(self, path: str) -> float:
        return self.parameter(path).value

    def parameter(self, path: str):
        group, _, rest = path.partition(".")
        if group not in GROUPS or not rest:
            raise KeyError(f"parameter {path!r} is not accepted: write GROUP.NAME (e.g. clinic.surgery.r0_probability) "
                           f"with GROUP one of {', '.join(GROUPS)}")  # fmt: skip
        return get_parameter(self._group(group), rest, group)

    @property
    def potency(self) -> Potency:
        if self._potency is None:
            self._potency = build_potency(self.potency_parameters)
        return self._potency

    def treatment(self):
        from gistsim.clinic.treatment import Treatment

        return Treatment(potency=self.potency)

    def record(self) -> dict[str, object]:
        """Name, provenance, overrides and every value used."""
        return {
            "parameter_set": self.name,
            "provenance": shipped()["provenance"] if self.name == shipped()["name"] else {},
            "overrides": dict(self.overrides),
            "evolution": self.evolution.values(),
            "clinic": self.clinic.values(),
            "potency": {"emax_per_day": self.potency_parameters.emax_per_day.value,
                        "hill": {d: p.value for d, p in self.potency_parameters.hill.items()},
                        "ec50_scale": {d: p.value for d, p in self.potency_parameters.ec50_scale.items()},
                        "host_kill_per_day": {d: p.value for d, p in self.potency_parameters.host_kill_per_day.items()},
                        "ec50_ng_ml": {d: {r: p.value for r, p in t.items()}
                                       for d, t in self.potency_parameters.ec50_ng_ml.items()}},
        }  # fmt: skip
