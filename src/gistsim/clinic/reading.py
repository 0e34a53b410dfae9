"""Reading the scans of many patients at once during a simulation: RECIST 1.1 and Choi, incrementally.

The readable per-patient implementation is :mod:`gistsim.clinic.recist` (and ``choi``); this is
the vectorised form the simulation loop needs (every patient, every visit), tested against it.
Lesions are non-nodal. A line of therapy (or a resection) sets a new baseline: targets are chosen
there (≤ 5, ≤ 2 per organ, ≥ 10 mm, largest first), every other visible lesion is a non-target,
and any lesion seen later that was not seen at that baseline is new.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CR, PR, SD, PD, NE, NED = 0, 1, 2, 3, 4, 5
#: Names of the response codes; SD also stands for RECIST's "non-CR/non-PD" (non-target disease only).
RESPONSE_NAMES = ("CR", "PR", "SD", "PD", "NE", "NED")
_EPS = 1e-9

MEASURABLE_MM = 10.0
MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
PR_FRACTION = 0.30
PD_FRACTION = 0.20
PD_ABSOLUTE_MM = 5.0
CHOI_SIZE_FRACTION = 0.10
CHOI_DENSITY_FRACTION = 0.15


@dataclass
class Reading:
    """What the reader concluded at one visit, per patient."""

    recist: np.ndarray
    """Overall RECIST 1.1 response code (CR, PR, SD, PD, NED; NE before any baseline)."""
    choi: np.ndarray
    """Overall Choi response code."""
    target_sum_mm: np.ndarray
    """Sum of target diameters (0 where targets disappeared)."""
    new_lesion: np.ndarray
    """Whether a new lesion was seen."""
    progressing: np.ndarray
    """Per lesion: grew ≥ 20% and ≥ 5 mm over its own nadir, or is new (for focal resection rules)."""


class Reader:
    """Per-line baselines, nadirs and target sets for every patient, updated visit by visit."""

    def __init__(self, n_patients: int) -> None:
        self.n = n_patients
        self.baseline_sum = np.zeros(n_patients)
        self.nadir_sum = np.zeros(n_patients)
        self.baseline_hu = np.full(n_patients, np.nan)
        self.has_baseline = np.zeros(n_patients, dtype=bool)
        self.lesion_target = np.zeros(0, dtype=bool)
        self.lesion_known = np.zeros(0, dtype=bool)
        self.lesion_nadir = np.zeros(0)
        self.non_target_nadir = np.zeros(n_patients)
        self.total_nadir = np.zeros(n_patients)
        self.last = np.full(n_patients, NE)

    def _grow(self, n_lesions: int) -> None:
        extra = n_lesions - len(self.lesion_target)
        if extra > 0:
            self.lesion_target = np.concatenate([self.lesion_target, np.zeros(extra, bool)])
            self.lesion_known = np.concatenate([self.lesion_known, np.zeros(extra, bool)])
            self.lesion_nadir = np.concatenate([self.lesion_nadir, np.zeros(extra)])

    def known(self, n_lesions: int) -> np.ndarray:
        """Per lesion 0..n_lesions-1: whether the reader has seen it (and it was not resected since)."""
        self._grow(n_lesions)
        return self.lesion_known[:n_lesions]

    def forget_lesions(self, keep: np.ndarray) -> None:
        """Keep only the lesions where ``keep`` (renumbered in order), as the course drops others."""
        self._grow(len(keep))
        n_l = len(keep)
        self.lesion_target = self.lesion_target[:n_l][keep]
        self.lesion_known = self.lesion_known[:n_l][keep]
        self.lesion_nadir = self.lesion_nadir[:n_l][keep]

    def set_baseline(
        self,
        patients: np.ndarray,
        lesion_patient: np.ndarray,
        lesion_organ: np.ndarray,
        measured_mm: np.ndarray,
        hu: np.ndarray,
        gone: np.ndarray | None = None,
    ) -> None:
        """New baseline for ``patients`` from this visit's measurements (NaN = not seen).

        ``gone``: per lesion, resected (no longer part of the disease, so no longer known).
        """
        self._grow(len(lesion_patient))
        sel = np.zeros(self.n, dtype=bool)
        sel[patients] = True
        # Only the lesions of ``patients`` (in lesion order, so sums and ties come out as over all).
        li = np.flatnonzero(sel[lesion_patient])
        owner = lesion_patient[li]
        seen = ~np.isnan(measured_mm[li])
        size = np.where(seen, measured_mm[li], 0.0)
        measurable = seen & (size >= MEASURABLE_MM)
        # Largest first within each patient; ties broken by lesion index (stable sort).
        order = np.lexsort((-size, owner))
        order = order[measurable[order]]
        target = np.zeros(len(li), dtype=bool)
        if len(order):
            # `order` runs patient by patient, largest lesion first: rank within organ, then patient.
            pat, org = owner[order], lesion_organ[li[order]]
            chosen = order[rank_within(pat * 1000 + org) < MAX_TARGETS_PER_ORGAN]
            target[chosen[rank_within(owner[chosen]) < MAX_TARGETS]] = True
        self.lesion_target[li] = target
        # A lesion seen before stays known: its regrowth after a new baseline (a line switch, a
        # restart, an operation) is disease seen again, not a new lesion. RECIST 1.1's working
        # group: lesions that disappear and reappear are not PD by themselves, unless the sums
        # meet PD or the previous visit was a CR (recist.eortc.org/faq/does-a-new-lesion-always-
        # result-in-pd); the reader, like a radiologist, has the earlier scans. Only never-seen
        # lesions are new.
        known = self.lesion_known[li] | seen
        if gone is not None:
            known &= ~gone[li]
        self.lesion_known[li] = known
        self.lesion_nadir[li] = size
        sums = np.bincount(owner, weights=np.where(target, size, 0.0), minlength=self.n)
        nt = np.bincount(owner, weights=np.where(seen & ~target, size, 0.0), minlength=self.n)
        self.baseline_sum[patients] = sums[patients]
        self.nadir_sum[patients] = sums[patients]
        self.non_target_nadir[patients] = nt[patients]
        self.total_nadir[patients] = sums[patients] + nt[patients]
        self.last[patients] = NE
        self.baseline_hu[patients] = _target_mean_hu(owner, target, hu[li], self.n)[patients]
        self.has_baseline[patients] = True

    def read(self, lesion_patient: np.ndarray, measured_mm: np.ndarray, hu: np.ndarray) -> Reading:
        """Assess every patient with a baseline at this visit and update nadirs.

        The rules are those of :func:`gistsim.clinic.recist.assess` for non-nodal lesions that are
        always assessed: target PD is growth over the nadir by ≥ max(5 mm, 20% of the nadir);
        non-target PD is growth of their sum over its nadir by ≥ max(5 mm, 20% of the nadir of
        the whole burden); after a CR any reappearing lesion is PD; a new lesion is PD.
        """
        self._grow(len(lesion_patient))
        n_l = len(lesion_patient)
        seen = ~np.isnan(measured_mm)
        size = np.where(seen, measured_mm, 0.0)
        n = self.n
        target = self.lesion_target[:n_l]
        known = self.lesion_known[:n_l]
        non_target = known & ~target

        def per_patient(values: np.ndarray) -> np.ndarray:
            return np.bincount(lesion_patient, weights=values, minlength=n)

        tsum = per_patient(np.where(target, size, 0.0))
        nt_sum = per_patient(np.where(non_target, size, 0.0))
        has_t = per_patient(target.astype(float)) > 0
        has_nt = per_patient(non_target.astype(float)) > 0
        nt_normal = per_patient((non_target & seen).astype(float)) == 0
        new = per_patient((seen & ~known).astype(float)) > 0
        after_cr = self.last == CR
        t_normal = tsum == 0
        t_pd = ~t_normal & (after_cr | (tsum - self.nadir_sum >= np.maximum(PD_ABSOLUTE_MM, PD_FRACTION * self.nadir_sum) - _EPS))
        t_pr = self.baseline_sum - tsum >= PR_FRACTION * self.baseline_sum - _EPS
        nt_pd = has_nt & ~nt_normal & (
            after_cr
            | (nt_sum - self.non_target_nadir >= np.maximum(PD_ABSOLUTE_MM, PD_FRACTION * self.total_nadir) - _EPS)
        )
        recist = np.where(t_pr, PR, SD)
        recist = np.where(t_normal, np.where(has_nt & ~nt_normal, PR, CR), recist)
        no_t = np.where(has_nt, np.where(nt_normal, CR, SD), NED)
        recist = np.where(has_t, recist, no_t)
        recist[(has_t & t_pd) | nt_pd | new] = PD
        # Choi (as gistsim.clinic.choi.assess_choi): size −10% or density −15% is PR unless
        # non-targets progress; +10% over the nadir without the density fall is PD; after a CR any
        # disease back is PD; without targets, the RECIST reading.
        mean_hu = _target_mean_hu(lesion_patient, target & seen, hu, n)
        size_change = np.divide(tsum - self.baseline_sum, self.baseline_sum, out=np.zeros(n), where=self.baseline_sum > 0)
        hu_change = np.divide(mean_hu - self.baseline_hu, self.baseline_hu, out=np.zeros(n), where=self.baseline_hu > 0)
        density_pr = np.nan_to_num(hu_change, nan=0.0) <= -CHOI_DENSITY_FRACTION + _EPS
        grew = (tsum - self.nadir_sum >= CHOI_SIZE_FRACTION * self.nadir_sum - _EPS) & (tsum > self.nadir_sum)
        t_cr = t_normal
        t_pd = ~t_cr & (after_cr | (grew & ~density_pr))
        t_pr = (size_change <= -CHOI_SIZE_FRACTION + _EPS) | density_pr
        choi = np.where((t_cr | t_pr) & ~nt_pd, PR, SD)
        choi = np.where(t_cr & nt_normal, CR, choi)
        choi[t_pd | new | (after_cr & ~(t_normal & nt_normal))] = PD
        choi = np.where(has_t, choi, recist)
        off = ~self.has_baseline
        recist[off] = NE
        choi[off] = NE
        # Per-lesion progression over each lesion's own nadir, for focal-resection rules.
        nadir = self.lesion_nadir[:n_l]
        progressing = seen & (~known | (size - nadir >= np.maximum(PD_ABSOLUTE_MM, PD_FRACTION * nadir) - _EPS))
        self.lesion_nadir[:n_l] = np.where(known, np.minimum(nadir, size), nadir)
        on = self.has_baseline
        self.nadir_sum = np.where(on, np.minimum(self.nadir_sum, tsum), self.nadir_sum)
        self.non_target_nadir = np.where(on, np.minimum(self.non_target_nadir, nt_sum), self.non_target_nadir)
        self.total_nadir = np.where(on, np.minimum(self.total_nadir, tsum + nt_sum), self.total_nadir)
        self.last = np.where(on, recist, self.last)
        return Reading(recist, choi, tsum, new, progressing)


def rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, … among equal ``groups`` values, in order of position (e.g. of a size-sorted list)."""
    order = np.lexsort((np.arange(len(groups)), groups))
    g = groups[order]
    start = np.ones(len(g), dtype=bool)
    start[1:] = g[1:] != g[:-1]
    run_start = np.maximum.accumulate(np.where(start, np.arange(len(g)), 0))
    rank = np.empty(len(g), dtype=np.int64)
    rank[order] = np.arange(len(g)) - run_start
    return rank


def _target_mean_hu(lesion_patient: np.ndarray, mask: np.ndarray, hu: np.ndarray, n: int) -> np.ndarray:
    w = np.where(mask & ~np.isnan(hu), 1.0, 0.0)
    tot = np.bincount(lesion_patient, weights=w * np.nan_to_num(hu), minlength=n)
    cnt = np.bincount(lesion_patient, weights=w, minlength=n)
    return np.divide(tot, cnt, out=np.full(n, np.nan), where=cnt > 0)
