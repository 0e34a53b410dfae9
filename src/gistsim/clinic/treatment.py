"""Drugs for the course simulation: each patient's regimen → concentrations → the engine's rates.

Patients on the same regimen, the same number of days into it and the same pause share their
piece boundaries, so exposure is computed per such group, vectorised over its patients. The
step's pieces are the union of every group's boundaries; a patient's concentration on a piece is
that of its own piece containing it.

A pause (recovery after surgery) is taken as no drug at all for its days (imatinib's half-life is
~18 h, sunitinib's a few days: washout is fast on the scale of weeks); dosing then resumes as if
it had continued on schedule (steady state returns within days).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gistsim.clinic import drugs
from gistsim.clinic.pd import DrugRates
from gistsim.clinic.potency import Potency, default_potency


def _subset(pk: drugs.PKParameters, idx: np.ndarray) -> drugs.PKParameters:
    return replace(
        pk,
        clearance_l_per_h=pk.clearance_l_per_h[idx],
        volume_l=pk.volume_l[idx],
        absorption_rate_per_h=pk.absorption_rate_per_h[idx],
        metabolite_ratio=pk.metabolite_ratio[idx],
    )


class Treatment:
    """The drug catalogue and potency table, as :class:`gistsim.clinic.course.TreatmentModel`."""

    def __init__(self, *, potency: Potency | None = None) -> None:
        self.regimen_names = drugs.regimen_names()
        self.regimens = [drugs.regimen(name) for name in self.regimen_names]
        self.potency = potency or default_potency()

    def sample_pk(self, n: int, rng: np.random.Generator) -> dict[str, drugs.PKParameters]:
        """Every drug's PK parameters for ``n`` patients."""
        return {d: drugs.sample_pk(d, n, rng=rng) for d in drugs.drug_names()}

    def step_rates(
        self,
        regimen: np.ndarray,
        days_on_regimen: np.ndarray,
        off_days: np.ndarray,
        dt_days: float,
        pk: dict[str, drugs.PKParameters],
        birth_per_day: np.ndarray,
        death_per_day: np.ndarray,
    ) -> tuple[np.ndarray, DrugRates]:
        """Piece durations and rates (groups = patients) for one interval of ``dt_days``."""
        n = len(regimen)
        treated = (regimen >= 0) & (off_days < dt_days)
        edges = {0.0, float(dt_days)}
        groups = []
        if treated.any():
            keys = np.stack([regimen[treated], np.round(days_on_regimen[treated], 6), np.round(off_days[treated], 6)])
            uniq, inv = np.unique(keys, axis=1, return_inverse=True)
            pats = np.flatnonzero(treated)
            for g in range(uniq.shape[1]):
                r, start, off = int(uniq[0, g]), float(uniq[1, g]), float(uniq[2, g])
                who = pats[inv.ravel() == g]
                reg = self.regimens[r]
                dur, conc = drugs.exposure_pieces(
                    reg, _subset(pk[reg.drug], who), start + off, start + dt_days
                )
                local = off + np.concatenate([[0.0], np.cumsum(dur)])
                edges.update(np.round(local, 9).tolist())
                groups.append((who, reg.drug, local, conc))
        edge = np.array(sorted(e for e in edges if 0.0 <= e <= dt_days))
        durations = np.diff(edge)
        keep = durations > 1e-9
        durations, mids = durations[keep], (0.5 * (edge[:-1] + edge[1:]))[keep]
        conc_all = np.zeros((len(durations), n))
        drug_of: list[str | None] = [None] * n
        for who, drug, local, conc in groups:
            piece = np.searchsorted(local, mids, side="right") - 1
            inside = (piece >= 0) & (piece < conc.shape[0])
            conc_all[np.ix_(inside, who)] = conc[piece[inside]]
            for p in who:
                drug_of[p] = drug
        if not any(d is not None for d in drug_of):
            return durations, DrugRates(
                birth_rate_per_day=birth_per_day, death_rate_per_day=death_per_day,
                potency=self.potency, n_pieces=len(durations),
            )
        return durations, DrugRates(
            birth_rate_per_day=birth_per_day,
            death_rate_per_day=death_per_day,
            conc_ng_ml=conc_all,
            drug=drug_of,
            potency=self.potency,
        )
