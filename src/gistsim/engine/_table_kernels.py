"""Compiled loops (numba) of the clone table: merging new cells into its sorted rows and summing
lesions, deterministic and saturating at ``MAX_CELLS`` like every count (see
:class:`gistsim.engine.clones.CloneTable`)."""

from __future__ import annotations

import numpy as np

from gistsim.engine._kernels import _MAX_CELLS, _inline, _jit, _n_runs


@_inline
def _gallop(keys, x, start: int) -> int:
    """The leftmost p with keys[p] >= x (len(keys) if none), by exponential search from ``start``:
    O(log distance) where a binary search over the whole table is O(log n) cache misses."""
    n = len(keys)
    if n == 0:
        return 0
    start = min(start, n - 1)
    step = 1
    if keys[start] < x:
        lo, hi = start, start + 1
        while hi < n and keys[hi] < x:
            lo = hi
            step *= 2
            hi = start + step
        hi = min(hi, n)
    else:
        lo, hi = start - 1, start
        while lo >= 0 and keys[lo] >= x:
            hi = lo
            step *= 2
            lo = start - step
        lo = max(lo, -1)
    # keys[lo] < x (or lo = -1) and keys[hi] >= x (or hi = n); the gap is short (additions
    # land near the last one): a scan costs less than a search on a slice.
    p = lo + 1
    while p < hi and keys[p] < x:
        p += 1
    return p


_MAX_COUNT = np.int64(_MAX_CELLS)


@_inline
def _add_cells(a, b):
    """a + b for cell counts in [0, MAX_CELLS], saturating at MAX_CELLS (2⁶²) as the draws do:
    the sum of two saturated counts would pass int64 and wrap round to a negative number."""
    return _MAX_COUNT if a > _MAX_COUNT - b else a + b


@_jit
def lesion_totals(lesion, count):
    """(lesion ids, total cells per lesion) of a table sorted by lesion; totals saturate at
    MAX_CELLS like every count (several saturated clones would pass int64)."""
    n_out = _n_runs(lesion)
    ids = np.empty(n_out, dtype=np.int64)
    totals = np.zeros(n_out, dtype=np.int64)
    w = -1
    for i in range(len(lesion)):
        if i == 0 or lesion[i] != lesion[i - 1]:
            w += 1
            ids[w] = lesion[i]
        totals[w] = _add_cells(totals[w], count[i])
    return ids, totals


@_jit
def table_keys(lesion, genotype, n_genotypes):
    """The clone table's keys ``lesion · n_genotypes + genotype``, checked strictly increasing
    (rows sorted by (lesion, genotype), one per key: what the searches below rely on)."""
    keys = np.empty(len(lesion), dtype=np.int64)
    for i in range(len(lesion)):
        keys[i] = lesion[i] * n_genotypes + genotype[i]
        if i > 0 and keys[i] <= keys[i - 1]:
            raise ValueError("clone table rows are not sorted by (lesion, genotype) with one row per key")
    return keys


@_jit
def add_found(keys, count, add_keys, add_count):
    """Adds each addition to the row of ``keys`` (sorted, unique) holding its key, in place in
    ``count``; returns the additions whose key has no row (indices, in order)."""
    n = len(keys)
    miss = np.empty(len(add_keys), dtype=np.int64)
    n_miss = 0
    p = 0
    for i in range(len(add_keys)):
        # Additions come in runs ordered like the table (by source clone): search from the last hit.
        p = _gallop(keys, add_keys[i], p)
        if p < n and keys[p] == add_keys[i]:
            count[p] = _add_cells(count[p], add_count[i])
        else:
            miss[n_miss] = i
            n_miss += 1
    return miss[:n_miss]


@_jit
def collapse(keys, rows, lesion, group, genotype, count):
    """New clones from additions ``rows`` sorted by ``keys``: one per key, with the first row's
    lesion, group and genotype and the summed cells."""
    n_out = _n_runs(keys)
    o_key = np.empty(n_out, dtype=np.int64)
    o_lesion = np.empty(n_out, dtype=np.int64)
    o_group = np.empty(n_out, dtype=np.int64)
    o_genotype = np.empty(n_out, dtype=np.int32)
    o_count = np.zeros(n_out, dtype=np.int64)
    w = -1
    for i in range(len(keys)):
        r = rows[i]
        if i == 0 or keys[i] != keys[i - 1]:
            w += 1
            o_key[w], o_lesion[w], o_group[w], o_genotype[w] = keys[i], lesion[r], group[r], genotype[r]
        o_count[w] = _add_cells(o_count[w], count[r])
    return o_key, o_lesion, o_group, o_genotype, o_count


@_jit
def merge_rows(keys, lesion, group, genotype, count, new_keys, new_lesion, new_group, new_genotype, new_count):
    """Two sorted tables with disjoint keys merged into one, rows without cells dropped."""
    size = len(keys) + len(new_keys)
    o_lesion = np.empty(size, dtype=np.int64)
    o_group = np.empty(size, dtype=np.int64)
    o_genotype = np.empty(size, dtype=np.int32)
    o_count = np.empty(size, dtype=np.int64)
    # Every row is written and kept by advancing w only where it has cells, and the row taken
    # from either table is a selection, not a branch (whether a clone died, and where the next
    # new clone goes, are unpredictable).
    n, m = len(keys), len(new_keys)
    i = j = w = 0
    while i < n and j < m:
        old = keys[i] < new_keys[j]
        if old:
            o_lesion[w], o_group[w], o_genotype[w], c = lesion[i], group[i], genotype[i], count[i]
        else:
            o_lesion[w], o_group[w], o_genotype[w], c = new_lesion[j], new_group[j], new_genotype[j], new_count[j]
        o_count[w] = c
        w += c > 0
        i += old
        j += 1 - old
    for r in range(i, n):
        o_lesion[w], o_group[w], o_genotype[w], o_count[w] = lesion[r], group[r], genotype[r], count[r]
        w += count[r] > 0
    for r in range(j, m):
        o_lesion[w], o_group[w], o_genotype[w] = new_lesion[r], new_group[r], new_genotype[r]
        o_count[w] = new_count[r]
        w += new_count[r] > 0
    return o_lesion[:w], o_group[:w], o_genotype[:w], o_count[:w]
