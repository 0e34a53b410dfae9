"""Per-patient draws in compiled loops, bit for bit as numpy draws them from each generator.

With per-patient streams, every call draws each owner's elements from its own generator. Done in
Python that is a call per patient and call (a 1,000-patient block made ~15,000 calls, each on
about a thousand generators: 2.4 s of its 12.7 s, profiled 2026-12-03). Here one compiled loop
walks the runs of owners instead:

* uniforms call each generator's PCG64 ``next_double`` through the C interface numpy exposes for
  this use (``bit_generator.ctypes``, numpy's "Extending via Numba"), exactly as
  ``Generator.random(k)`` fills its output;
* the other laws use numba's port of numpy's samplers on the generators themselves (a typed list
  of them), which draws the same numbers from the same bit stream — the engine's single-generator
  loops rely on the same port (:mod:`gistsim.engine._kernels`).

Either way each generator ends where numpy's own calls would leave it; tests compare both paths.
Callers fall back to numpy's methods for other bit generators, and for arguments numpy would
refuse, so numpy raises its own error.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba import njit, typed

_next_double = np.random.PCG64(0).ctypes.next_double
_NEXT_DOUBLE_ADDRESS = ctypes.cast(_next_double, ctypes.c_void_p).value
#: numpy's largest Poisson mean (``Generator.poisson`` refuses larger ones).
POISSON_LAM_MAX = float(np.iinfo(np.int64).max - np.sqrt(np.iinfo(np.int64).max) * 10)


def state_addresses(generators: list[np.random.Generator]) -> np.ndarray | None:
    """Each generator's PCG64 state address, or None unless every one is a PCG64 whose
    ``next_double`` is the function :func:`fill_uniforms` calls."""
    out = np.empty(len(generators), dtype=np.int64)
    for i, g in enumerate(generators):
        bits = g.bit_generator
        if type(bits) is not np.random.PCG64:
            return None
        iface = bits.ctypes
        if ctypes.cast(iface.next_double, ctypes.c_void_p).value != _NEXT_DOUBLE_ADDRESS:
            return None
        out[i] = iface.state_address
    return out


def generator_list(generators: list[np.random.Generator]) -> typed.List | None:
    """The generators as a numba typed list (the same objects, so draws advance their states), or
    None unless they are all PCG64 generators (the bit generator the tests compare)."""
    if not generators or any(type(g.bit_generator) is not np.random.PCG64 for g in generators):
        return None
    # Built by cached compiled functions rather than typed.List(generators), whose methods numba
    # compiles afresh in every process (1.05 against 0.58 s in a new process, measured 2026-12-07:
    # a worker's start-up); appending costs the same (~26 µs a generator) either way.
    out = _list_of(generators[0])
    for g in generators[1:]:
        _append(out, g)
    return out


@njit(cache=True)
def _list_of(first):
    out = typed.List()
    out.append(first)
    return out


@njit(cache=True)
def _append(items, item):
    items.append(item)


def valid_arguments(method: str, args: tuple[np.ndarray, ...]) -> bool:
    """Whether numpy would accept these arguments (and dtypes) for ``method``; else the caller
    lets numpy draw, and raise."""
    if method == "binomial":
        n, p = args
        return n.dtype.kind in "iu" and bool((n >= 0).all() and ((p >= 0) & (p <= 1)).all())
    if method == "negative_binomial":
        n, p = args
        return n.dtype.kind in "iuf" and bool((n > 0).all() and ((p > 0) & (p <= 1)).all())
    if method == "geometric":
        (p,) = args
        return bool(((p > 0) & (p <= 1)).all())
    if method == "poisson":
        (lam,) = args
        return bool(((lam >= 0) & (lam <= POISSON_LAM_MAX)).all())
    raise ValueError(f"method = {method!r} is not known; accepted values: binomial, negative_binomial, geometric, poisson")


# Not cached: the function pointer is a process-local address, which numba will not cache.
@njit(cache=False)
def fill_uniforms(addresses, los, his, generator, out):
    """``out[lo:hi] = generators[generator].random(hi - lo)`` for every run."""
    for j in range(len(los)):
        state = addresses[generator[j]]
        for i in range(los[j], his[j]):
            out[i] = _next_double(state)
    return out


@njit(cache=True)
def fill_normals(gens, los, his, generator, out):
    for j in range(len(los)):
        g = gens[generator[j]]
        for i in range(los[j], his[j]):
            out[i] = g.standard_normal()
    return out


#: Laws of :func:`draw`, by method name.
LAWS = {"binomial": 0, "negative_binomial": 1, "geometric": 2, "poisson": 3}


@njit(cache=True)
def draw(gens, law, los, his, generator, counts, x, p, out):
    """``out[i] = generators[generator[j]].<law>(...)`` for every element of every run, in order:
    binomial(counts, p), negative_binomial(x, p), geometric(x), poisson(x). ``counts`` is an int64
    array (binomial trials can exceed 2^53), unused (empty) for the other laws."""
    for j in range(len(los)):
        g = gens[generator[j]]
        for i in range(los[j], his[j]):
            if law == 0:
                out[i] = g.binomial(counts[i], p[i])
            elif law == 1:
                out[i] = g.negative_binomial(x[i], p[i])
            elif law == 2:
                out[i] = g.geometric(x[i])
            else:
                out[i] = g.poisson(x[i])
    return out
