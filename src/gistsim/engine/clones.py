"""The clone table: every clone of every lesion of every patient, as parallel arrays.

A clone is the set of cells of one genotype in one lesion. The table holds one row per clone and
is kept sorted by ``(lesion, genotype)``, so that mutants arriving in a lesion can find the clone
of their genotype with a binary search. Extinct clones are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gistsim.engine import _table_kernels
from gistsim.errors import check_counts


def _check_groups(lesion: np.ndarray, group: np.ndarray) -> None:
    """Rows sorted by lesion: every lesion must have one group."""
    clash = (lesion[1:] == lesion[:-1]) & (group[1:] != group[:-1])
    if clash.any():
        i = int(np.flatnonzero(clash)[0])
        raise ValueError(
            f"lesion {int(lesion[i])} has clones in groups {int(group[i])} and {int(group[i + 1])}: "
            "all clones of a lesion must share one group"
        )


@dataclass
class CloneTable:
    """Clones as arrays indexed by row (not one Python object per clone)."""

    lesion: np.ndarray
    """Lesion id of each clone (int64). Ids are global: unique across patients."""
    group: np.ndarray
    """Rate group of each clone (int64): whose rates apply, typically the patient's index."""
    genotype: np.ndarray
    """Genotype code (int32), see :class:`gistsim.biology.genotypes.GenotypeRegistry`."""
    count: np.ndarray
    """Number of cells (int64)."""
    n_genotypes: int
    """Number of genotype codes; fixes the sort key ``lesion * n_genotypes + genotype``."""

    @classmethod
    def from_arrays(
        cls,
        *,
        lesion: np.ndarray,
        genotype: np.ndarray,
        count: np.ndarray,
        n_genotypes: int,
        group: np.ndarray | None = None,
    ) -> CloneTable:
        """Validate, merge duplicate (lesion, genotype) rows, drop empty clones and sort.

        ``group`` defaults to the lesion id. All clones of one lesion must share a group.
        """
        lesion = np.asarray(lesion, dtype=np.int64).ravel()
        genotype = np.asarray(genotype).ravel()
        count = check_counts("count", np.asarray(count).ravel())
        group = lesion.copy() if group is None else np.asarray(group, dtype=np.int64).ravel()
        sizes = {"lesion": len(lesion), "genotype": len(genotype), "count": len(count), "group": len(group)}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"clone arrays must have equal lengths; got {sizes}")
        if (lesion < 0).any():
            raise ValueError(f"lesion = {int(lesion[lesion < 0][0])} is not accepted: lesion ids must be >= 0")
        if genotype.dtype.kind not in "iu" or ((genotype < 0) | (genotype >= n_genotypes)).any():
            bad = genotype[(genotype < 0) | (genotype >= n_genotypes)] if genotype.dtype.kind in "iu" else genotype
            raise ValueError(
                f"genotype = {bad[0].item()!r} is not a known genotype code: accepted integers 0..{n_genotypes - 1}"
            )
        key = lesion * n_genotypes + genotype
        order = np.argsort(key, kind="stable")
        key, lesion, group, genotype, count = key[order], lesion[order], group[order], genotype[order], count[order]
        _check_groups(lesion, group)
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(first)
        if len(starts) < len(key):
            count = np.add.reduceat(count, starts) if len(key) else count
            lesion, group, genotype = lesion[starts], group[starts], genotype[starts]
        return cls(lesion, group, genotype.astype(np.int32), count, n_genotypes).compact()

    def __len__(self) -> int:
        return len(self.count)

    @property
    def key(self) -> np.ndarray:
        """Sort key ``lesion * n_genotypes + genotype``."""
        return self.lesion * self.n_genotypes + self.genotype

    def compact(self) -> CloneTable:
        """Drop extinct clones (in place) and return self."""
        alive = self.count > 0
        if not alive.all():
            self.lesion, self.group = self.lesion[alive], self.group[alive]
            self.genotype, self.count = self.genotype[alive], self.count[alive]
        return self

    def add_cells(self, lesion: np.ndarray, group: np.ndarray, genotype: np.ndarray, count: np.ndarray) -> None:
        """Add cells of given (lesion, genotype): to the existing clone, or as a new clone.

        Rows with no cells are ignored, and clones left without cells are dropped (as by
        :meth:`compact`, in the same pass).
        """
        count = np.asarray(count, dtype=np.int64)
        some = count > 0
        if not some.all():
            lesion, group, genotype, count = lesion[some], group[some], genotype[some], count[some]
        if len(count) == 0:
            return
        lesion = np.asarray(lesion, dtype=np.int64)
        group = np.asarray(group, dtype=np.int64)
        genotype = np.asarray(genotype, dtype=np.int32)
        # The table's keys are sorted and unique: additions to an existing clone find it by a
        # galloping search; only the others (new clones) are sorted, then merged in one pass.
        keys = _table_kernels.table_keys(self.lesion, self.genotype, self.n_genotypes)
        total = self.count.copy()
        add_keys = lesion * self.n_genotypes + genotype
        miss = _table_kernels.add_found(keys, total, add_keys, count)
        new_keys = add_keys[miss]
        order = np.argsort(new_keys, kind="stable")
        new = _table_kernels.collapse(new_keys[order], miss[order], lesion, group, genotype, count)
        self.lesion, self.group, self.genotype, self.count = _table_kernels.merge_rows(
            keys, self.lesion, self.group, self.genotype, total, *new
        )

    def lesion_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """(lesion ids, total cells per lesion), lesions in increasing id order."""
        if len(self) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return _table_kernels.lesion_totals(self.lesion, self.count)

    def rows(self, which: np.ndarray) -> CloneTable:
        """A new table of the rows ``which`` (a mask, or increasing indices): order, and so sorting, kept."""
        return CloneTable(self.lesion[which], self.group[which], self.genotype[which], self.count[which], self.n_genotypes)

    def copy(self) -> CloneTable:
        return CloneTable(
            self.lesion.copy(), self.group.copy(), self.genotype.copy(), self.count.copy(), self.n_genotypes
        )
