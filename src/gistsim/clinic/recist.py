"""RECIST 1.1 for one patient (Eisenhauer et al., Eur J Cancer 2009;45:228): targets, sums, responses.

Pure and deterministic; usable on simulated and on real measurements. Input, per lesion
(:class:`Lesion`) and visit (visit 0 is the baseline), is the measured size in mm: the longest
diameter, or the short axis for a lymph node. ``diameters_mm`` has shape (lesions, visits):

* a number > 0: measured;
* 0, NaN or None: looked for and not seen (a disappeared target counts 0 mm);
* ``too_small[i, v]``: present but too small to measure; counts 5 mm, RECIST's default;
* ``assessed[i, v] = False``: not assessed (region not scanned, scan missing): targets → NE.

Where RECIST leaves room, this module decides as follows:

1. Targets: measurable lesions, largest first, ties in input order, at most 5 and 2 per organ;
   all lymph nodes are one organ (EORTC RECIST FAQ). ``representative=True`` first gives every
   involved organ its largest lesion ("representative of all involved organs"), then fills.
2. Unequivocal non-target progression: the reader's flag per visit (``non_target_pd``) if given;
   otherwise a rule: the non-target sum has grown over its nadir by at least 5 mm and at least
   20% of the nadir of the whole burden (targets + non-targets). In non-target-only disease
   this is the target PD rule, as RECIST asks; with measurable disease it requires that
   non-target growth alone lifts the whole burden as much as target PD would ("substantial
   worsening ... sufficient to merit discontinuation"), so measurement noise on small
   non-targets does not trigger it. ``non_target_rule=False`` disables the rule.
3. Missing targets: NE, unless the targets that were measured already meet PD (RECIST 1.1,
   "Missing assessments and inevaluable designation").
   Visits without a full target sum do not update the nadir.
4. Reappearance: after an overall CR (last evaluated visit), any target or non-target that
   reappears (seen, or a node ≥ 10 mm) is PD (EORTC RECIST FAQ); otherwise a reappearing target
   just adds its size to the sum.
5. CR is checked before PD: nodes < 10 mm are normal, so their growth below 10 mm is not PD.
6. New lesions: any lesion not present at baseline that is seen later; a node only from 10 mm
   short axis (``new_node_min_mm``). A lesion in a region not scanned at baseline is new (RECIST 1.1,
   "New lesions").
7. No disease at baseline: follow-up visits are "NED" until a new lesion (→ PD).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gistsim.clinic._imaging_input import check_days, check_flags, check_mask, check_sizes
from gistsim.clinic.response import Response, best_overall_response, first_pd_day
from gistsim.errors import check_choice, check_nonnegative

__all__ = [
    "ORGANS", "Assessment", "Lesion", "Response", "assess", "best_overall_response", "first_pd_day",
    "select_targets",
]  # fmt: skip


#: Organs a lesion can sit in. Restricted so that a typo ("Liver") cannot make a second organ
#: and let 4 liver lesions become targets. The first six are those the simulator uses.
ORGANS = (
    "liver", "peritoneum", "primary_site", "lung", "bone", "lymph_node",
    "stomach", "small_intestine", "colon", "rectum", "oesophagus", "pancreas", "spleen",
    "adrenal", "kidney", "pleura", "soft_tissue", "skin", "brain",
)  # fmt: skip

# Thresholds that define RECIST 1.1 (Eisenhauer 2009, sections 3-4); not parameters to tune.
MEASURABLE_MM = 10.0
NODE_PATHOLOGICAL_MM = 10.0
NODE_MEASURABLE_MM = 15.0
TOO_SMALL_MM = 5.0
MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
PR_DECREASE = 0.30
PD_INCREASE = 0.20
PD_ABSOLUTE_MM = 5.0
# Our rule for unequivocal non-target progression (module docstring, item 2).
NT_PD_INCREASE = 0.20
NT_PD_ABSOLUTE_MM = 5.0
# Sums are floating point: 100 → 70.00000000000001 is still a 30% decrease.
_EPS_MM = 1e-9


@dataclass(frozen=True, slots=True)
class Lesion:
    """One lesion of one patient, as the reader labels it."""

    id: str
    """Unique within the patient."""
    organ: str
    """One of :data:`ORGANS`."""
    nodal: bool | None = None
    """Lymph node (sized by short axis); None: true exactly when ``organ == "lymph_node"``."""
    measurable: bool = True
    """False for disease RECIST never measures (ascites, blastic bone, peritoneal thickening)."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"Lesion.id = {self.id!r} is not accepted: give a non-empty string")
        check_choice(f"Lesion({self.id!r}).organ", self.organ, ORGANS)
        nodal = self.organ == "lymph_node" if self.nodal is None else self.nodal
        if bool(nodal) != (self.organ == "lymph_node"):
            raise ValueError(
                f"Lesion({self.id!r}).nodal = {self.nodal!r} with organ = {self.organ!r}: "
                "a lesion is nodal exactly when its organ is 'lymph_node'"
            )
        object.__setattr__(self, "nodal", bool(nodal))


@dataclass(frozen=True, slots=True)
class Assessment:
    """The RECIST 1.1 reading of one visit (visit 0: the baseline)."""

    day: float
    """Day of the scan."""
    sum_mm: float | None
    """Sum of target diameters (5 mm for too small, 0 for gone); None if not all assessed or no targets."""
    nadir_mm: float | None
    """Reference for PD: smallest full sum at earlier visits, baseline included."""
    change_from_baseline: float | None
    """(sum − baseline sum) / baseline sum."""
    change_from_nadir: float | None
    """(sum − nadir) / nadir; None when the nadir is 0."""
    non_target_sum_mm: float | None
    """Sum of non-target sizes (as for targets); None if not all assessed. Used by the PD rule."""
    target: Response
    """CR, PR, SD, PD, NE; NA without targets; BASELINE at visit 0."""
    non_target: Response
    """CR, NON-CR/NON-PD, PD, NE; NA without non-targets; BASELINE at visit 0."""
    new_lesions: tuple[str, ...]
    """Ids of new lesions seen at this visit."""
    response: Response
    """Overall response (Eisenhauer 2009, Tables 1 and 2)."""


def select_targets(
    baseline_mm: Sequence[float | None] | np.ndarray,
    organs: Sequence[str],
    nodal: Sequence[bool],
    *,
    measurable: Sequence[bool] | None = None,
    too_small: Sequence[bool] | None = None,
    representative: bool = False,
) -> tuple[list[int], list[int]]:
    """Indices of the target and of the non-target lesions, from baseline sizes (NaN/0: not seen).

    Normal nodes (< 10 mm) and lesions not seen are in neither list.
    """
    size = check_sizes("baseline_mm", baseline_mm, ndim=1)
    n = size.size
    organs, nodal = list(organs), check_mask("nodal", nodal, (n,), False)
    if len(organs) != n:
        raise ValueError(f"organs has length {len(organs)}; expected {n}, the length of baseline_mm")
    for i, organ in enumerate(organs):
        check_choice(f"organs[{i}]", organ, ORGANS)
    measurable = check_mask("measurable", measurable, (n,), True)
    small = check_mask("too_small", too_small, (n,), False)
    size = np.where(small, TOO_SMALL_MM, np.nan_to_num(size))
    present = np.where(nodal, size >= NODE_PATHOLOGICAL_MM, size > 0)
    limit = np.where(nodal, NODE_MEASURABLE_MM, MEASURABLE_MM)
    candidates = np.flatnonzero(present & measurable & ~small & (size >= limit))
    order = sorted(candidates.tolist(), key=lambda i: (-size[i], i))
    group = ["lymph_node" if nodal[i] else organs[i] for i in range(n)]
    if representative:
        firsts = {}
        for i in order:
            firsts.setdefault(group[i], i)
        order = list(firsts.values()) + [i for i in order if i not in firsts.values()]
    chosen: list[int] = []
    per_organ: Counter[str] = Counter()
    for i in order:
        if len(chosen) < MAX_TARGETS and per_organ[group[i]] < MAX_TARGETS_PER_ORGAN:
            chosen.append(i)
            per_organ[group[i]] += 1
    targets = sorted(chosen)
    return targets, [i for i in np.flatnonzero(present).tolist() if i not in targets]


def assess(
    lesions: Sequence[Lesion],
    days: Sequence[float] | np.ndarray,
    diameters_mm: Sequence[Sequence[float | None]] | np.ndarray,
    *,
    assessed: np.ndarray | None = None,
    too_small: np.ndarray | None = None,
    non_target_pd: Sequence[bool | None] | None = None,
    targets: Sequence[str] | None = None,
    non_target_rule: bool = True,
    representative: bool = False,
    new_node_min_mm: float = NODE_PATHOLOGICAL_MM,
) -> list[Assessment]:
    """RECIST 1.1 reading at every visit; ``result[0]`` is the baseline.

    ``targets`` overrides the selection with the reader's choice (ids, checked against the rules).
    ``non_target_pd[v]``: True = unequivocal non-target progression, False = none, None = rule.
    """
    prep = _prepare(
        lesions, days, diameters_mm, assessed, too_small, targets, representative, new_node_min_mm
    )
    return _assess_prepared(prep, non_target_pd, non_target_rule)


# --- internals (shared with :mod:`gistsim.clinic.choi`) -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    ids: list[str]
    nodal: np.ndarray  # (L,) bool
    days: np.ndarray  # (V,)
    size: np.ndarray  # (L, V) mm counted: 0 not seen, 5 too small; NaN where not assessed
    too_small: np.ndarray  # (L, V) bool
    assessed: np.ndarray  # (L, V) bool
    targets: list[int]
    non_targets: list[int]
    new: np.ndarray  # (L, V) bool: a new lesion seen at that visit


def _prepare(lesions, days, diameters_mm, assessed, too_small, targets, representative, new_node_min_mm):
    lesions = list(lesions)
    for i, les in enumerate(lesions):
        if not isinstance(les, Lesion):
            raise ValueError(f"lesions[{i}] = {les!r} is not a Lesion")
    ids = [les.id for les in lesions]
    dup = next((x for x, c in Counter(ids).items() if c > 1), None)
    if dup is not None:
        raise ValueError(f"lesion id {dup!r} appears {ids.count(dup)} times; ids must be unique")
    days = check_days(days)
    new_node_min_mm = float(check_nonnegative("new_node_min_mm", new_node_min_mm, strictly_positive=True))
    shape = (len(lesions), days.size)
    size = check_sizes("diameters_mm", diameters_mm, ndim=2) if lesions else np.zeros(shape)
    if size.shape != shape:
        raise ValueError(f"diameters_mm has shape {size.shape}; expected {shape} (lesions, visits)")
    assessed = check_mask("assessed", assessed, shape, True)
    small = check_mask("too_small", too_small, shape, False)
    clash = small & (size > 0)
    if clash.any():
        i, v = (int(k) for k in np.argwhere(clash)[0])
        raise ValueError(
            f"too_small[{i}, {v}] is True but diameters_mm[{i}, {v}] = {size[i, v].item()!r}: "
            "a lesion too small to measure takes NaN or 0"
        )
    size = np.where(small, TOO_SMALL_MM, np.nan_to_num(size))
    size[~assessed] = np.nan
    nodal = np.array([les.nodal for les in lesions], dtype=bool)
    organs = [les.organ for les in lesions]
    base = np.where(assessed[:, 0], size[:, 0], np.nan) if lesions else np.zeros(0)
    measurable = np.array([les.measurable for les in lesions], dtype=bool)
    chosen, others = select_targets(
        base, organs, nodal, measurable=measurable, too_small=small[:, 0], representative=representative
    )
    if targets is not None:
        present = chosen + others
        chosen = _check_targets(list(targets), ids, base, nodal, measurable, small[:, 0], organs)
        others = sorted(set(present) - set(chosen))
    known = np.zeros(len(lesions), dtype=bool)
    known[chosen + others] = True
    with np.errstate(invalid="ignore"):
        seen = np.where(nodal[:, None], size >= new_node_min_mm, size > 0)
    new = ~known[:, None] & seen & assessed
    new[:, 0] = False
    return _Prepared(ids, nodal, days, size, small, assessed, chosen, others, new)


def _check_targets(wanted, ids, base, nodal, measurable, small, organs) -> list[int]:
    """Indices of the reader's targets, after checking them against the RECIST rules."""
    chosen = []
    for k, tid in enumerate(wanted):
        check_choice(f"targets[{k}]", tid, ids)
        i = ids.index(tid)
        limit = NODE_MEASURABLE_MM if nodal[i] else MEASURABLE_MM
        if not measurable[i] or small[i] or not np.nan_to_num(base[i]) >= limit:
            raise ValueError(
                f"targets[{k}] = {tid!r} is not measurable at baseline (size {float(base[i])!r} mm; "
                f"a target needs >= {limit} mm and a measurement)"
            )
        chosen.append(i)
    groups = Counter("lymph_node" if nodal[i] else organs[i] for i in set(chosen))
    too_many = next((g for g, c in groups.items() if c > MAX_TARGETS_PER_ORGAN), None)
    if len(set(chosen)) != len(chosen) or len(chosen) > MAX_TARGETS or too_many:
        raise ValueError(
            f"targets = {list(wanted)!r} is not accepted: at most {MAX_TARGETS} distinct lesions, "
            f"{MAX_TARGETS_PER_ORGAN} per organ (lymph nodes are one organ)"
        )
    return sorted(chosen)


def _block(p: _Prepared, idx: list[int]) -> tuple[list[bool], list[float], list[bool]]:
    """Per visit, for lesions ``idx``: all assessed?, summed size of the assessed ones, all normal?"""
    s = p.size[idx]
    with np.errstate(invalid="ignore"):
        normal = np.where(p.nodal[idx, None], s < NODE_PATHOLOGICAL_MM, s == 0)
    return p.assessed[idx].all(0).tolist(), np.nansum(s, 0).tolist(), normal.all(0).tolist()


def _grew(value: float, ref: float, threshold: float) -> bool:
    return value - ref >= threshold - _EPS_MM


def _assess_prepared(p: _Prepared, non_target_pd, non_target_rule: bool) -> list[Assessment]:
    R = Response
    n_visits = p.days.size
    flags = check_flags("non_target_pd", non_target_pd, n_visits)
    has_t, has_nt = bool(p.targets), bool(p.non_targets)
    t_ok, t_sum, t_normal = _block(p, p.targets)
    nt_ok, nt_sum, nt_normal = _block(p, p.non_targets)
    new_ids: list[list[str]] = [[] for _ in range(n_visits)]
    for i, v in zip(*np.nonzero(p.new)):
        new_ids[v].append(p.ids[i])
    days = p.days.tolist()
    base = t_sum[0]
    nadir, nt_nadir, total_nadir = base, nt_sum[0], base + nt_sum[0]
    b = R.BASELINE
    zero = 0.0 if has_t else None
    out = [Assessment(days[0], base if has_t else None, base if has_t else None, zero, zero, nt_sum[0],
                      b if has_t else R.NA, b if has_nt else R.NA, (), b)]  # fmt: skip
    last = None  # last evaluated overall response: reappearance after a CR is PD
    for v in range(1, n_visits):
        tsum = t_sum[v] if has_t and t_ok[v] else None
        pd_threshold = max(PD_ABSOLUTE_MM, PD_INCREASE * nadir)
        if not has_t:
            target = R.NA
        elif tsum is None:  # the measured targets alone may already be PD (item 3 above)
            target = R.PD if _grew(t_sum[v], nadir, pd_threshold) else R.NE
        elif t_normal[v]:
            target = R.CR
        elif last == R.CR or _grew(tsum, nadir, pd_threshold):
            target = R.PD
        elif base - tsum >= PR_DECREASE * base - _EPS_MM:
            target = R.PR
        else:
            target = R.SD
        flag = flags[v]
        nt_grew = (
            flag is None
            and non_target_rule
            and _grew(nt_sum[v], nt_nadir, max(NT_PD_ABSOLUTE_MM, NT_PD_INCREASE * total_nadir))
        )
        if not has_nt:
            non_target = R.NA
        elif flag:
            non_target = R.PD
        elif nt_ok[v] and nt_normal[v]:
            non_target = R.CR
        elif nt_grew or (nt_ok[v] and last == R.CR):
            non_target = R.PD
        else:
            non_target = R.NON_CR_NON_PD if nt_ok[v] else R.NE
        new = tuple(new_ids[v])
        if new or R.PD in (target, non_target):
            overall = R.PD
        elif not has_t:  # Table 2 (non-target disease only), or no disease at all
            overall = R.NED if not has_nt else non_target if non_target in (R.CR, R.NE) else R.NON_CR_NON_PD
        elif target == R.CR:  # Table 1: CR needs non-targets gone too
            overall = R.CR if non_target in (R.CR, R.NA) else R.PR
        else:
            overall = target  # PR, SD or NE: non-targets are non-PD or not all evaluated
        out.append(Assessment(
            days[v], tsum, nadir if has_t else None,
            None if tsum is None else (tsum - base) / base,
            None if tsum is None or nadir <= 0 else (tsum - nadir) / nadir,
            nt_sum[v] if nt_ok[v] else None, target, non_target, new, overall,
        ))  # fmt: skip
        if tsum is not None:
            nadir = min(nadir, tsum)
        if nt_ok[v]:
            nt_nadir = min(nt_nadir, nt_sum[v])
            if tsum is not None or not has_t:
                total_nadir = min(total_nadir, (tsum or 0.0) + nt_sum[v])
        if overall != R.NE:
            last = overall
    return out
