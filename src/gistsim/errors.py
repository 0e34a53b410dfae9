"""Input checks whose errors name the field, the value and what would be accepted."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def check_choice(field: str, value: object, accepted: Iterable[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``accepted``."""
    accepted = list(accepted)
    if value not in accepted:
        shown = ", ".join(repr(a) for a in accepted)
        raise ValueError(f"{field} = {value!r} is not known; accepted values: {shown}")


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    idx = np.argwhere(bad)[0]
    where = f"[{', '.join(str(int(i)) for i in idx)}]" if arr.ndim else ""
    value = arr[tuple(idx)].item() if arr.ndim else arr.item()
    return f"{where} = {value!r}"


def check_nonnegative(field: str, values: np.ndarray | float, *, strictly_positive: bool = False) -> np.ndarray:
    """Return ``values`` as a float array; raise if any is NaN, infinite or negative (or zero)."""
    arr = np.asarray(values, dtype=float)
    # Checked on every piece structure of every step: two reductions (NaN propagates into both)
    # rather than four array passes; the mask only to name the first bad entry.
    if arr.size == 0:
        return arr
    lo, hi = arr.min(), arr.max()
    if not ((lo > 0.0 if strictly_positive else lo >= 0.0) and hi < np.inf):
        bad = ~np.isfinite(arr) | (arr <= 0 if strictly_positive else arr < 0)
        need = "finite and > 0" if strictly_positive else "finite and >= 0"
        raise ValueError(f"{field}{_first_bad(arr, bad)} is not accepted: values must be {need}")
    return arr


def check_unit_interval(field: str, values: np.ndarray | float) -> np.ndarray:
    """Return ``values`` as a float array; raise if any is NaN or outside [0, 1]."""
    arr = np.asarray(values, dtype=float)
    bad = ~((arr >= 0.0) & (arr <= 1.0))  # NaN fails both comparisons
    if bad.any():
        raise ValueError(f"{field}{_first_bad(arr, bad)} is not accepted: values must be in [0, 1]")
    return arr


def check_counts(field: str, values: np.ndarray | int) -> np.ndarray:
    """Return ``values`` as an int64 array of cell counts; raise on negatives, NaN or fractions."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr)) | (arr >= 2.0**62)
        if bad.any():
            raise ValueError(
                f"{field}{_first_bad(arr, bad)} is not a cell count: counts must be whole numbers in [0, 2**62)"
            )
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{field} has dtype {arr.dtype}; cell counts must be integers")
    bad = arr < 0
    if bad.any():
        raise ValueError(f"{field}{_first_bad(arr, bad)} is not a cell count: counts must be >= 0")
    return arr.astype(np.int64, copy=False)
