"""Surgery: resect lesions, completely (R0) with a probability, otherwise (R1) leaving a microscopic focus."""

from __future__ import annotations

import numpy as np

from gistsim.clinic.parameters import SurgeryParameters
from gistsim.engine.clones import CloneTable
from gistsim.streams import Draws, PatientStreams, as_draws, owners


def resect(
    table: CloneTable,
    lesion_ids: np.ndarray,
    params: SurgeryParameters,
    *,
    rng: np.random.Generator | PatientStreams | Draws,
    owner: np.ndarray | None = None,
) -> np.ndarray:
    """Resect the given lesions in place; returns, per lesion id given, whether it was R0.

    An R0 resection removes every cell. Otherwise (R1) each clone keeps Binomial(cells, f) cells
    with f = min(1, ``residual_cells`` / the lesion's cells): a random sample of the lesion of
    ``residual_cells`` cells on average, microscopic by the definition of R1 (a fraction of the
    lesion would leave a visible remnant of a large lesion, which is R2).
    """
    lesion_ids = np.asarray(lesion_ids, dtype=np.int64)
    if len(np.unique(lesion_ids)) != len(lesion_ids):
        raise ValueError("lesion_ids must not repeat a lesion")
    d = as_draws(rng)
    r0 = d.random(owners(d, owner, len(lesion_ids))) < params.r0_probability.value
    hit = np.isin(table.lesion, lesion_ids)
    if hit.any():
        rows = np.flatnonzero(hit)
        order = np.argsort(lesion_ids)
        r0_of_row = r0[order[np.searchsorted(lesion_ids[order], table.lesion[rows])]]
        # Cells per operated lesion, over its rows only (lesion ids are global: a bincount would span them all).
        _, which = np.unique(table.lesion[rows], return_inverse=True)
        lesion_cells = np.bincount(which, weights=table.count[rows].astype(float))[which]
        f = np.minimum(1.0, params.residual_cells.value / np.maximum(lesion_cells, 1.0))
        keep = d.binomial(table.group[rows], table.count[rows], f)
        table.count[rows] = np.where(r0_of_row, 0, keep)
        table.compact()
    return r0
