"""Validating input files with pydantic, with messages that name the field and the accepted values."""

from __future__ import annotations

from typing import TypeVar

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
            lines.append(f"  {loc}: {msg} (got {err.get('input')!r})")
        raise InputError(f"{what} is not valid:\n" + "\n".join(lines)) from None
