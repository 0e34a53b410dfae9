"""Input checks shared by the response criteria (:mod:`.recist`, :mod:`.choi`).

Errors name the field, the offending value (with its index) and what would be accepted.
"""

from __future__ import annotations

import numpy as np

# Hounsfield scale of a CT scanner (12-bit): air −1024 to dense bone/metal +3071.
HU_RANGE = (-1024.0, 3071.0)


def _at(idx: np.ndarray) -> str:
    return ", ".join(str(int(i)) for i in idx)


def check_sizes(field: str, values, *, ndim: int) -> np.ndarray:
    """Sizes in mm as a float array of ``ndim`` dimensions; NaN (or None) allowed, negatives not."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        msg = f"{field} is not accepted: values must be numbers in mm, or None/NaN ({exc})"
        raise ValueError(msg) from None
    if arr.ndim != ndim:
        raise ValueError(f"{field} has {arr.ndim} dimension(s), shape {arr.shape}; expected {ndim}")
    bad = np.isinf(arr) | (arr < 0)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(
            f"{field}[{_at(idx)}] = {arr[tuple(idx)].item()!r} is not accepted: "
            "sizes must be finite and >= 0 mm (0 or NaN: not seen)"
        )
    return arr


def check_hu(field: str, values, shape: tuple[int, ...]) -> np.ndarray:
    """Mean attenuations in HU, shape ``shape``; NaN (or None) = not measured."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        msg = f"{field} is not accepted: values must be numbers in HU, or None/NaN ({exc})"
        raise ValueError(msg) from None
    if arr.shape != shape:
        raise ValueError(f"{field} has shape {arr.shape}; expected {shape} (lesions, visits)")
    bad = np.isinf(arr) | (arr < HU_RANGE[0]) | (arr > HU_RANGE[1])
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(
            f"{field}[{_at(idx)}] = {arr[tuple(idx)].item()!r} is not accepted: "
            f"attenuation must lie in [{HU_RANGE[0]:g}, {HU_RANGE[1]:g}] HU (NaN: not measured)"
        )
    return arr


def check_mask(field: str, values, shape: tuple[int, ...], default: bool) -> np.ndarray:
    """A boolean array of ``shape``; ``default`` everywhere when None."""
    if values is None:
        return np.full(shape, default)
    arr = np.asarray(values)
    if arr.shape != shape:
        raise ValueError(f"{field} has shape {arr.shape}; expected {shape}")
    if arr.dtype != bool:
        raise ValueError(f"{field} has dtype {arr.dtype}; expected booleans")
    return arr


def check_flags(field: str, values, n: int) -> list[bool | None]:
    """One True/False/None per visit; True is refused at visit 0 (the baseline)."""
    if values is None:
        return [None] * n
    flags = list(values)
    if len(flags) != n:
        raise ValueError(f"{field} has length {len(flags)}; expected {n}, one per visit")
    for v, f in enumerate(flags):
        if f is not None and not isinstance(f, bool | np.bool_):
            raise ValueError(f"{field}[{v}] = {f!r} is not accepted; accepted values: True, False, None")
    if flags and flags[0]:
        raise ValueError(f"{field}[0] = True is not accepted: visit 0 is the baseline")
    return [None if f is None else bool(f) for f in flags]


def check_days(values) -> np.ndarray:
    """Scan days: a non-empty, finite, strictly increasing 1-D array."""
    days = np.asarray(values, dtype=float)
    if days.ndim != 1 or days.size == 0 or not np.isfinite(days).all() or (np.diff(days) <= 0).any():
        shown = np.ravel(days).tolist()
        raise ValueError(f"days = {shown!r} is not accepted: give finite, strictly increasing days")
    return days
