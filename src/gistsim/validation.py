"""Validating input files with pydantic, with messages that name the field and the accepted values."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class InputError(ValueError):
    """An input file or mapping that does not validate; the message lists every problem."""


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (to list its accepted keys)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return None
        ann = current.model_fields[part].annotation
        nxt = None
        for cand in getattr(ann, "__args__", (ann,)):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                nxt = cand
        current = nxt
    return current


def validate(model: type[M], data: object, what: str) -> M:
    """``model.model_validate(data)``, re-raising errors as one readable :class:`InputError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                owner = _model_at(model, err["loc"])
                accepted = ", ".join(owner.model_fields) if owner else "see the documentation"
                msg = f"unknown key; accepted keys: {accepted}"
            # A whole section (a model validator's input) is the user's own document: echoing
            # it buries the message, which names the field and value itself.
            got = "" if isinstance(err.get("input"), dict) else f" (got {err.get('input')!r})"
            lines.append(f"  {loc}: {msg}{got}")
        raise InputError(f"{what} is not valid:\n" + "\n".join(lines)) from None


def builtin_documents(folder: str) -> dict[str, dict]:
    """The YAML documents shipped in ``gistsim/data/<folder>/``, by their ``name`` field."""
    out = {}
    for item in sorted(resources.files("gistsim.data").joinpath(folder).iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            raw = yaml.safe_load(item.read_text(encoding="utf-8"))
            out[raw["name"]] = raw
    return out


def load_document(
    model: type[M], source: str | Path | dict, *, kind: str, kinds: str, builtins: dict[str, M]
) -> M:
    """A ``model`` from a parsed mapping, a YAML file path, or the name of a built-in one."""
    if isinstance(source, dict):
        return validate(model, source, kind)
    path = Path(source)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return validate(model, yaml.safe_load(path.read_text(encoding="utf-8")), f"{kind} file {path}")
    if str(source) in builtins:
        return builtins[str(source)]
    raise ValueError(
        f"{kind} {str(source)!r} is neither a YAML file nor a built-in {kind}; "
        f"built-in {kinds}: {', '.join(sorted(builtins))}"
    )
