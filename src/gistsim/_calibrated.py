"""The shipped calibrated parameter values (``data/calibrated.yaml``) and dotted-name access.

A parameter is named by its path, e.g. ``evolution.birth_rate_per_day``,
``clinic.imaging.scar_fraction`` or ``potency.emax_per_day``. The shipped defaults are the
values of ``evolution.yaml``, ``clinic.yaml`` and ``potency.yaml`` (the defaults before calibration)
with the calibrated values of ``calibrated.yaml`` put over them; their priors stay as they are.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from gistsim._data import load_yaml

#: The top-level groups a dotted name may start with.
GROUPS = ("evolution", "clinic", "potency")


@lru_cache(maxsize=1)
def shipped() -> dict:
    """``{"name", "provenance", "values"}`` of the shipped calibration (no file: the priors)."""
    if not resources.files("gistsim.data").joinpath("calibrated.yaml").is_file():
        return {"name": "uncalibrated", "provenance": {}, "values": {}}
    raw = load_yaml("calibrated.yaml")
    return {"name": str(raw["name"]), "provenance": dict(raw.get("provenance", {})), "values": dict(raw["values"])}


def group_values(group: str, values: dict[str, float] | None = None) -> dict[str, float]:
    """The entries of ``values`` (default: the shipped ones) under ``group``, without the prefix."""
    values = shipped()["values"] if values is None else values
    return {k[len(group) + 1 :]: float(v) for k, v in values.items() if k.startswith(group + ".")}


def get_parameter(model, path: str, prefix: str = ""):
    """The :class:`~gistsim.biology.parameters.Parameter` at ``path`` (dots) inside ``model``
    (``prefix``: the group's own name, for messages)."""
    item = model
    done: list[str] = [prefix] if prefix else []
    for part in path.split("."):
        nxt = item.get(part) if isinstance(item, dict) else getattr(item, part, None)
        if nxt is None or (not isinstance(item, dict) and part not in type(item).model_fields):
            names = sorted(item) if isinstance(item, dict) else sorted(type(item).model_fields)
            where = ".".join(done) or "the top level"
            full = f"{prefix}.{path}" if prefix else path
            raise KeyError(f"parameter {full!r}: {part!r} is not a field of {where}; accepted values: {', '.join(names)}")
        item = nxt
        done.append(part)
    if not hasattr(item, "prior"):
        full = f"{prefix}.{path}" if prefix else path
        raise KeyError(f"parameter {full!r} names a group, not a single parameter")
    return item


def load_group(model_cls, filename: str, group: str, calibrated: bool):
    """A data file validated as ``model_cls``, with the shipped calibrated values of ``group`` over it."""
    params = model_cls.model_validate(load_yaml(filename))
    if calibrated:
        apply_values(params, group_values(group), group)
    return params


def apply_values(model, values: dict[str, float], prefix: str = "") -> None:
    """Set ``values`` (paths relative to ``model``) in place."""
    for path, v in values.items():
        parameter = get_parameter(model, path, prefix)
        parameter.prior.check(f"{prefix}.{path}" if prefix else path, float(v))
        parameter.value = float(v)
