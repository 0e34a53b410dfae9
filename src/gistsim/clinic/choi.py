"""Choi criteria for GIST on TKIs (Choi et al., J Clin Oncol 2007;25:1753), and modified Choi.

Same input as :func:`gistsim.clinic.recist.assess` (sizes per lesion and visit, visit 0 the
baseline) plus each lesion's mean attenuation in HU (portal-venous phase; NaN: not measured).

* Size: the sum of target diameters. The targets are the RECIST 1.1 targets (≤ 5, ≤ 2 per
  organ, short axis for nodes), so one reading yields both criteria on the same lesions; Choi
  defined size on RECIST 1.0 targets (≤ 10, longest diameter for all). Pass ``targets=`` to
  choose others.
* Density: the unweighted mean of the targets' mean HU, over the targets present (too small or
  gone ones have no tissue to measure). If a present target has no HU, the visit has no density:
  size alone decides (so modified Choi cannot give PR). The change is relative to the baseline
  density, which must be > 0 HU.

Response at a visit:

* CR: all lesions gone (nodes < 10 mm), no new lesions;
* PD: new lesions; a new intratumoral nodule or growth of one (``intratumoral_nodule``, the
  reader's flag); or size ≥ 10% above the reference (``pd_reference``: the nadir, as RECIST
  does, by default; or the baseline) unless density fell ≥ 15% (PR by attenuation);
* PR: size ≥ 10% below baseline or density ≥ 15% below baseline (modified Choi: both), with
  no unequivocal non-target progression (judged as in RECIST: flag or rule);
* SD otherwise. Choi lists no non-target PD: non-target progression only blocks PR.

Targets missing → NE, unless the measured ones already meet RECIST PD (≥ 20% and ≥ 5 mm, hence
≥ 10%). After an overall CR, any reappearing lesion is PD (as in RECIST). Without targets Choi
has no size to read; such patients get the RECIST 1.1 response for non-target disease (Table 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gistsim.clinic._imaging_input import check_flags, check_hu
from gistsim.clinic.recist import NODE_PATHOLOGICAL_MM, Lesion, _assess_prepared, _prepare
from gistsim.clinic.response import Response
from gistsim.errors import check_choice

SIZE_PR_DECREASE = 0.10
SIZE_PD_INCREASE = 0.10
DENSITY_PR_DECREASE = 0.15
_EPS = 1e-9  # fractions are floating point: 100 → 90 is exactly a 10% decrease


@dataclass(frozen=True, slots=True)
class ChoiAssessment:
    """The Choi reading of one visit (visit 0: the baseline)."""

    day: float
    """Day of the scan."""
    size_mm: float | None
    """Sum of target diameters; None if not all targets were assessed, or no targets."""
    size_change: float | None
    """(size − baseline size) / baseline size."""
    size_change_from_reference: float | None
    """(size − reference) / reference, reference = nadir or baseline; None when it is 0."""
    density_hu: float | None
    """Mean attenuation of the present targets; None when one of them has no HU."""
    density_change: float | None
    """(density − baseline density) / baseline density."""
    target: Response
    """Read from size and density alone: CR, PR, SD, PD, NE; NA without targets; BASELINE at visit 0."""
    non_target: Response
    """As in RECIST 1.1: CR, NON-CR/NON-PD, PD, NE, NA, BASELINE."""
    new_lesions: tuple[str, ...]
    """Ids of new lesions seen at this visit."""
    intratumoral_nodule: bool
    """The reader saw a new intratumoral nodule or growth of an existing one."""
    response: Response
    """Overall Choi response."""


def assess_choi(
    lesions: Sequence[Lesion],
    days: Sequence[float] | np.ndarray,
    diameters_mm: Sequence[Sequence[float | None]] | np.ndarray,
    hu: Sequence[Sequence[float | None]] | np.ndarray,
    *,
    modified: bool = False,
    pd_reference: str = "nadir",
    intratumoral_nodule: Sequence[bool | None] | None = None,
    assessed: np.ndarray | None = None,
    too_small: np.ndarray | None = None,
    non_target_pd: Sequence[bool | None] | None = None,
    targets: Sequence[str] | None = None,
    non_target_rule: bool = True,
    representative: bool = False,
    new_node_min_mm: float = NODE_PATHOLOGICAL_MM,
) -> list[ChoiAssessment]:
    """Choi (or, with ``modified=True``, modified Choi) reading at every visit; ``result[0]`` is the baseline.

    Keywords after ``intratumoral_nodule`` mean what they mean in :func:`gistsim.clinic.recist.assess`.
    :func:`gistsim.clinic.response.best_overall_response` and ``first_pd_day`` take the result.
    """
    check_choice("pd_reference", pd_reference, ("nadir", "baseline"))
    prep = _prepare(
        lesions, days, diameters_mm, assessed, too_small, targets, representative, new_node_min_mm
    )
    n_visits = prep.days.size
    hu = check_hu("hu", hu, (len(prep.ids), n_visits))
    nodules = [bool(f) for f in check_flags("intratumoral_nodule", intratumoral_nodule, n_visits)]
    recist = _assess_prepared(prep, non_target_pd, non_target_rule)
    density = _density(prep.size, prep.too_small, hu, prep.targets)
    d0 = density[0]
    if not (d0 is not None and d0 > 0):
        d0 = None  # a relative change needs a positive baseline attenuation
    R = Response
    base = recist[0].sum_mm
    out = [ChoiAssessment(prep.days[0].item(), base, 0.0 if base is not None else None,
                          0.0 if base is not None else None, density[0], 0.0 if d0 else None,
                          recist[0].target, recist[0].non_target, (), False, R.BASELINE)]  # fmt: skip
    nadir, last = base, None
    for v in range(1, n_visits):
        a, nodule = recist[v], nodules[v]
        size = a.sum_mm
        ref = nadir if pd_reference == "nadir" else base
        dens = density[v]
        dens_change = None if d0 is None or dens is None else (dens - d0) / d0
        dens_pr = dens_change is not None and dens_change <= -DENSITY_PR_DECREASE + _EPS
        size_change = growth = None
        if base is None:
            target = R.NA
        elif size is None:  # recist gives PD here only when the measured targets already grew ≥ 20%
            target = R.PD if a.target == R.PD else R.NE
        else:
            size_change = (size - base) / base
            growth = (size - ref) / ref if ref > 0 else None
            size_pr = size_change <= -SIZE_PR_DECREASE + _EPS
            grew = size - ref >= SIZE_PD_INCREASE * ref - _EPS and size > ref
            if a.target == R.CR:  # every target gone, nodes < 10 mm
                target = R.CR
            elif last == R.CR or (grew and not dens_pr):
                target = R.PD
            elif (size_pr and dens_pr) if modified else (size_pr or dens_pr):
                target = R.PR
            else:
                target = R.SD
        nt = a.non_target
        if a.new_lesions or nodule or target == R.PD:
            overall = R.PD
        elif base is None:
            overall = a.response  # RECIST Table 2 (or NED)
        elif target == R.NE:
            overall = R.NE
        elif target == R.CR and nt in (R.CR, R.NA):
            overall = R.CR
        elif target in (R.CR, R.PR) and nt != R.PD:
            overall = R.PR
        else:
            overall = R.SD
        if last == R.CR and overall not in (R.CR, R.NE):
            overall = R.PD  # any disease back after a CR (e.g. a non-target) is progression
        out.append(ChoiAssessment(prep.days[v].item(), size, size_change, growth, dens, dens_change,
                                  target, nt, a.new_lesions, nodule, overall))  # fmt: skip
        if size is not None:
            nadir = min(nadir, size)
        if overall != R.NE:
            last = overall
    return out


def _density(size: np.ndarray, too_small: np.ndarray, hu: np.ndarray, targets: list[int]) -> list:
    """Per visit, the mean HU of the present targets; None if one lacks HU or none is present."""
    s, h = size[targets], hu[targets]
    with np.errstate(invalid="ignore"):
        present = (s > 0) & ~too_small[targets]
    lacking = (present & np.isnan(h)).any(0)
    count = present.sum(0)
    mean = np.where(present, np.nan_to_num(h), 0.0).sum(0) / np.maximum(count, 1)
    return [None if lack or c == 0 else float(m) for lack, c, m in zip(lacking, count, mean)]
