"""Pharmacodynamics: the drug's kill rate, added to each clone's untreated death rate.

kill (per day) = Emax · C^h / (C^h + EC50^h), with C the patient's average total plasma
concentration over a piece (:func:`gistsim.clinic.drugs.exposure_pieces`), EC50 and h from
:mod:`gistsim.clinic.potency`, and Emax (``potency.yaml: emax_per_day``) the maximal kill, the same
for every drug: the kill follows from inhibiting the driver kinase, and drugs differ in how much
concentration that takes (EC50), not in what full inhibition does.

:class:`DrugRates` is the engine's rate model (:class:`gistsim.engine.rates.RateModel`) for one
step: birth and death per day for every (group, genotype) pair over the step's pieces. A group is a
patient; each group may be on a different drug, or untreated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gistsim.clinic import _pd_kernels
from gistsim.clinic.potency import Potency, default_potency
from gistsim.errors import check_choice, check_nonnegative

# The optional factors of DrugRates.rates not in use (see _pd_kernels.clone_rates).
_EMPTY, _EMPTY_INT, _EMPTY_BOOL = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
_EMPTY_2D = np.zeros((0, 0))


def _or_empty(a: np.ndarray | None, empty: np.ndarray = _EMPTY) -> np.ndarray:
    return empty if a is None else a


def kill_fraction(conc_ng_ml: np.ndarray | float, ec50_ng_ml: np.ndarray | float, hill: float) -> np.ndarray:
    """C^h / (C^h + EC50^h): the share of the maximal kill reached at concentration C."""
    c = check_nonnegative("conc_ng_ml", conc_ng_ml)
    e = check_nonnegative("ec50_ng_ml", ec50_ng_ml, strictly_positive=True)
    h = float(check_nonnegative("hill", hill, strictly_positive=True))
    # Written as 1 / (1 + (EC50/C)^h) so huge EC50s or concentrations cannot overflow.
    with np.errstate(divide="ignore"):
        return np.where(c > 0, 1.0 / (1.0 + (e / np.where(c > 0, c, 1.0)) ** h), 0.0)


def kill_rate_per_day(
    conc_ng_ml: np.ndarray | float,
    ec50_ng_ml: np.ndarray | float,
    hill: float,
    emax_per_day: float,
) -> np.ndarray:
    """Emax · C^h / (C^h + EC50^h), per day."""
    emax = float(check_nonnegative("emax_per_day", emax_per_day))
    return emax * kill_fraction(conc_ng_ml, ec50_ng_ml, hill)


class DrugRates:
    """Birth and death rates per day under treatment, for the engine.

    Parameters
    ----------
    birth_rate_per_day, death_rate_per_day
        Untreated rates: a scalar or one value per genotype code (n_genotypes,).
    conc_ng_ml
        Average concentration per piece and group, shape (n_pieces, n_groups), from
        :func:`~gistsim.clinic.drugs.exposure_pieces`; ``None`` when nobody is treated.
    drug
        The drug every group is on (a name), or one entry per group (a name, or ``None`` for an
        untreated group), or an integer array of drug codes per group (positions in
        ``potency.drugs``, -1 for an untreated group). Required with ``conc_ng_ml``.
    potency
        EC50s, Hill exponents and Emax (default: the shipped median set).
    n_pieces
        Number of pieces when ``conc_ng_ml`` is ``None``.
    group_scale
        Optional factor per group on the untreated birth and death rates (a patient's pace of
        disease); the drug's kill is not scaled.
    group_growth
        Optional factor in [0, 1] per group on the untreated net growth (birth − death), taken
        out of the birth rate: growth slowing as the tumour burden grows (see
        :func:`gistsim.clinic.course.growth_factor`). The death rate, hence the turnover that
        feeds mutation, is unchanged.
    group_escape
        Optional factor per group on the untreated net growth of the KIT-independent genotypes
        (``registry.bypass_carrier``), taken out of the birth rate like ``group_growth``: how fast
        a patient's escape grows varies between patients (evolution.escape_growth_iiv_sigma_log).
    lesion_secondary
        Optional factor per lesion id on the untreated net growth of the genotypes with a
        secondary KIT mutation (``registry.kit_secondary_mask``), taken out of the birth rate like
        ``group_escape`` (evolution.secondary_growth_iiv_sigma_log and _lesion_sigma_log).
    lesion_scale
        Optional factor per lesion id on the untreated birth and death rates, on top of
        ``group_scale``: how much faster or slower one lesion's disease is than its patient's.
    group_kill
        Optional factor per group on the drug's kill rate: how sensitive a patient's tumour is
        at a given exposure (evolution.kill_iiv_sigma_log).
    group_host
        Optional factor per group on the host's kill (evolution.host_kill_iiv_sigma_log).

    Where the potency has a host kill for a drug (``potency.host_kill_per_day``), it is added to the
    death rate of every genotype of a group on that drug, in the pieces where it is present.
    """

    def __init__(
        self,
        *,
        birth_rate_per_day: np.ndarray | float,
        death_rate_per_day: np.ndarray | float,
        conc_ng_ml: np.ndarray | None = None,
        drug: str | Sequence[str | None] | None = None,
        potency: Potency | None = None,
        n_pieces: int = 1,
        group_scale: np.ndarray | None = None,
        group_growth: np.ndarray | None = None,
        group_escape: np.ndarray | None = None,
        lesion_secondary: np.ndarray | None = None,
        group_kill: np.ndarray | None = None,
        group_host: np.ndarray | None = None,
        lesion_scale: np.ndarray | None = None,
    ) -> None:
        self.potency = potency or default_potency()
        self.lesion_scale = None if lesion_scale is None else check_nonnegative("lesion_scale", lesion_scale)
        self.lesion_secondary = None if lesion_secondary is None else check_nonnegative("lesion_secondary", lesion_secondary)
        self.uses_lesion = self.lesion_scale is not None or self.lesion_secondary is not None
        self.group_escape = None if group_escape is None else check_nonnegative("group_escape", group_escape)
        self._escape_genotype = self.potency.registry.bypass_carrier
        # Only when used: DrugRates is built for every piece structure of every step.
        self._secondary_genotype = None if lesion_secondary is None else self.potency.registry.kit_secondary_mask != 0
        self.group_scale = None if group_scale is None else check_nonnegative("group_scale", group_scale)
        self.group_growth = None if group_growth is None else check_nonnegative("group_growth", group_growth)
        self.group_kill = None if group_kill is None else check_nonnegative("group_kill", group_kill)
        self.group_host = None if group_host is None else check_nonnegative("group_host", group_host)
        n_geno = self.potency.registry.n_genotypes
        self.birth_rate_per_day = self._per_genotype("birth_rate_per_day", birth_rate_per_day, n_geno)
        self.death_rate_per_day = self._per_genotype("death_rate_per_day", death_rate_per_day, n_geno)
        self.emax_per_day = float(self.potency.emax_per_day)
        if conc_ng_ml is None:
            if drug is not None:
                raise ValueError(
                    "drug is given but conc_ng_ml is None: accepted both, or neither (untreated)"
                )
            if not (isinstance(n_pieces, int | np.integer) and n_pieces >= 1):
                raise ValueError(f"n_pieces = {n_pieces!r} is not accepted: a whole number >= 1")
            self.n_pieces, self._treated = int(n_pieces), False
            return
        conc = check_nonnegative("conc_ng_ml", conc_ng_ml)
        if conc.ndim != 2:
            raise ValueError(f"conc_ng_ml has shape {conc.shape}; accepted shape (n_pieces, n_groups)")
        self.n_pieces, n_groups = conc.shape
        drug_idx, treated = self._drugs_of_groups(drug, n_groups)
        h = self.potency.hill[drug_idx]  # (n_groups,)
        # Powers are taken once per step here, not once per clone in rates().
        self._conc_h = np.where(treated[None, :], conc ** h[None, :], 0.0)
        self._ec50_h = self.potency.ec50_ng_ml ** self.potency.hill[:, None]  # (n_drugs, n_genotypes)
        self._drug_of_group = drug_idx
        self._treated = True
        # The host's kill (potency.host_kill_per_day) needs the drug present: none in a pause.
        host = self.potency.host_kill_per_day
        self._host = None if host is None else np.where(treated[None, :] & (conc > 0), host[drug_idx][None, :], 0.0)
        cap = self.potency.host_kill_cap_per_day
        # Only a patient's factor can take the host kill past the cap.
        self._host_cap = None if cap is None or self.group_host is None else cap[drug_idx]

    @staticmethod
    def _per_genotype(field: str, values: np.ndarray | float, n_geno: int) -> np.ndarray:
        arr = check_nonnegative(field, values)
        if arr.ndim == 0:
            return np.full(n_geno, float(arr))
        if arr.shape != (n_geno,):
            raise ValueError(
                f"{field} has shape {arr.shape}; accepted a scalar or shape ({n_geno},), one per genotype"
            )
        return arr

    def _drugs_of_groups(self, drug: object, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
        drugs = self.potency.drugs
        if drug is None:
            raise ValueError(
                f"conc_ng_ml is given but drug is None: accepted a drug name ({', '.join(drugs)}) "
                "or one per group"
            )
        if isinstance(drug, str):
            check_choice("drug", drug, drugs)
            return np.full(n_groups, drugs.index(drug)), np.ones(n_groups, dtype=bool)
        if isinstance(drug, np.ndarray) and drug.dtype.kind in "iu":
            if drug.shape != (n_groups,):
                raise ValueError(
                    f"drug has shape {drug.shape}; accepted one code per group ({n_groups}, the columns of conc_ng_ml)"
                )
            bad = (drug < -1) | (drug >= len(drugs))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"drug[{i}] = {int(drug[i])} is not accepted: a drug code in -1..{len(drugs) - 1} "
                    f"(the position in {drugs}; -1 for an untreated group)"
                )
            return np.maximum(drug, 0).astype(np.int64), drug >= 0
        names = list(drug)
        if len(names) != n_groups:
            raise ValueError(
                f"drug has {len(names)} entries; accepted one per group "
                f"({n_groups}, the columns of conc_ng_ml)"
            )
        code: dict[object, int] = {name: i for i, name in enumerate(drugs)}
        code[None] = -1
        idx = np.array([code.get(n, -2) if isinstance(n, str | None) else -2 for n in names], dtype=np.int64)
        if (idx == -2).any():
            first = int(np.flatnonzero(idx == -2)[0])
            check_choice(f"drug[{first}]", names[first], drugs)
        return np.maximum(idx, 0), idx >= 0

    def kill_per_day(self, group: np.ndarray, genotype: np.ndarray) -> np.ndarray:
        """The drug's kill rate, shape (n_pieces, len(group)), per day."""
        group, genotype = np.asarray(group), np.asarray(genotype)
        if not self._treated:
            return np.zeros((self.n_pieces, len(group)))
        ch = self._conc_h.take(group, axis=1)  # faster than [:, group] for several pieces
        eh = self._ec50_h[self._drug_of_group[group], genotype]
        kill = self.emax_per_day * ch / (ch + eh)
        if self.group_kill is not None:
            kill = kill * self.group_kill[group]
        # Not scaled by group_kill: the tumour's sensitivity and tolerance are its own, the host's kill is not.
        if self._host is None:
            return kill
        host = self._host.take(group, axis=1)
        if self.group_host is None:
            return kill + host
        scaled = host * self.group_host[group]
        return kill + (scaled if self._host_cap is None else np.minimum(scaled, self._host_cap[group]))

    def rates(
        self, group: np.ndarray, genotype: np.ndarray, lesion: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(birth, death)``, each (n_pieces, len(group)), per day: death = untreated + kill.
        With ``lesion_scale``, each clone's untreated rates are also scaled by its lesion's factor
        (``lesion`` required)."""
        if self.uses_lesion and lesion is None:
            which = "lesion_secondary" if self.lesion_secondary is not None else "lesion_scale"
            raise ValueError(f"rates with {which} need each clone's lesion; lesion is None")
        treated = self._treated
        host = self._host if treated else None
        return _pd_kernels.clone_rates(
            np.asarray(group), np.asarray(genotype), _EMPTY_INT if lesion is None else np.asarray(lesion),
            self.birth_rate_per_day, self.death_rate_per_day, _or_empty(self.group_growth), _or_empty(self.group_escape),
            self._escape_genotype, _or_empty(self.lesion_secondary), _or_empty(self._secondary_genotype, _EMPTY_BOOL),
            _or_empty(self.group_scale), _or_empty(self.lesion_scale),
            self._conc_h if treated else _EMPTY_2D, self._ec50_h if treated else _EMPTY_2D,
            self._drug_of_group if treated else _EMPTY_INT, self.emax_per_day, _or_empty(self.group_kill),
            _or_empty(host, _EMPTY_2D), _or_empty(None if host is None else self.group_host),
            _or_empty(None if host is None else self._host_cap), self.n_pieces,
        )  # fmt: skip
