"""Drugs for the course simulation: each patient's regimen → concentrations → the engine's rates.

Patients on the same regimen, the same number of days into it and the same pause share their
piece boundaries, so exposure is computed per such group, vectorised over its patients. Patients
with the same boundaries form a piece structure, advanced by the engine on its own.

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
from gistsim.errors import check_choice
from gistsim.streams import PatientStreams, as_draws


def _subset(pk: drugs.PKParameters, idx: np.ndarray) -> drugs.PKParameters:
    return replace(
        pk,
        clearance_l_per_h=pk.clearance_l_per_h[idx],
        volume_l=pk.volume_l[idx],
        absorption_rate_per_h=pk.absorption_rate_per_h[idx],
        metabolite_ratio=pk.metabolite_ratio[idx],
    )


def _structure(dur: np.ndarray, conc: np.ndarray, off: float, dt_days: float) -> tuple[tuple[float, ...], np.ndarray]:
    """A piece structure's edges (from 0 to ``dt_days``) and concentrations (pieces, patients): a
    pause of ``off`` days without drug, then the exposure pieces ``dur``; pieces shorter than 1e-9
    days dropped, edges rounded to 1e-9 so that equal structures compare equal."""
    bounds = off + np.concatenate([[0.0], np.cumsum(dur)])
    local = np.concatenate([[0.0], bounds]) if off > 0 else bounds
    c = np.vstack([np.zeros((1, conc.shape[1])), conc]) if off > 0 else conc
    keep = np.diff(local) > 1e-9
    local = np.concatenate([[0.0], np.round(local[1:][keep], 9)])
    local[-1] = dt_days
    return tuple(local.tolist()), c[keep]


class Treatment:
    """The drug catalogue and potency table, as :class:`gistsim.clinic.course.TreatmentModel`."""

    def __init__(self, *, potency: Potency | None = None) -> None:
        self.regimen_names = drugs.regimen_names()
        self.regimens = [drugs.regimen(name) for name in self.regimen_names]
        self.potency = potency or default_potency()
        # Each regimen's drug as its position in potency.drugs (DrugRates' drug codes).
        self._drug_code = [self.potency.drugs.index(reg.drug) for reg in self.regimens]

    def sample_pk(
        self, n: int, rng: np.random.Generator | PatientStreams, iiv_cv: dict[str, dict[str, float]] | None = None
    ) -> dict[str, drugs.PKParameters]:
        """Every drug's PK parameters for ``n`` patients (per-patient streams: each from its own);
        ``iiv_cv``: drug → its between-patient CVs in place of the catalogue's (:func:`drugs.sample_pk`)."""
        iiv_cv = iiv_cv or {}
        for d in iiv_cv:
            check_choice("pk_iiv_cv", d, drugs.drug_names())
        if isinstance(rng, np.random.Generator):
            return {d: drugs.sample_pk(d, n, rng=rng, iiv_cv=iiv_cv.get(d)) for d in drugs.drug_names()}
        if len(rng) != n:
            raise ValueError(f"{len(rng)} patient streams for n = {n} patients: need one per patient")
        # Each patient's stream draws three normals per drug, drug after drug: all of them in one
        # compiled pass (the same numbers as a call per patient and drug).
        names = drugs.drug_names()
        owner = np.repeat(np.arange(n), 3 * len(names))
        z = as_draws(rng).standard_normal(owner).reshape(n, len(names), 3)
        out = {d: drugs.sample_pk(d, n, rng=None, z=z[:, k, :].T, iiv_cv=iiv_cv.get(d)) for k, d in enumerate(names)}
        return out

    #: Days after which any regimen's exposure no longer depends on how long it has run: imatinib's
    #: excess bioavailability 0.48·e^(−0.0256·t) is below 1e-12 by then, and every drug's slowest
    #: PK mode (SU12662, t½ ≈ 94 h) has decayed by e^(−200) long before.
    STEADY_AFTER_DAYS = 1100.0
    #: Cycles after which an on/off schedule's state is periodic: q^20 < 1e-18 even for a slow-clearance
    #: patient (q = e^(−λ·cycle) ≈ 0.12 at λ = 0.05/day).
    STEADY_AFTER_CYCLES = 20
    #: Most exposures a course keeps (each is pieces × patients floats).
    EXPOSURE_CACHE_SIZE = 256

    def _canonical_start(self, regimen: np.ndarray, days_on: np.ndarray) -> np.ndarray:
        """Days on the regimen, shifted back to the earliest day with the same exposure ahead.

        Patients whose exposure over the coming interval is the same then share one exposure
        computation: continuous regimens past :data:`STEADY_AFTER_DAYS`, on/off regimens past
        :data:`STEADY_AFTER_CYCLES` cycles (at the same phase).
        """
        out = np.asarray(days_on, dtype=float).copy()
        for r, reg in enumerate(self.regimens):
            mine = regimen == r
            if not mine.any():
                continue
            if reg.continuous:
                out[mine] = np.minimum(out[mine], self.STEADY_AFTER_DAYS)
            else:
                cycle = reg.cycle_days
                extra = np.maximum(np.floor(out[mine] / cycle) - self.STEADY_AFTER_CYCLES, 0.0)
                out[mine] = out[mine] - extra * cycle
        return out

    def step_rates(
        self,
        regimen: np.ndarray,
        days_on_regimen: np.ndarray,
        off_days: np.ndarray,
        dt_days: float,
        pk: dict[str, drugs.PKParameters],
        birth_per_day: np.ndarray,
        death_per_day: np.ndarray,
        *,
        group_scale: np.ndarray | None = None,
        group_growth: np.ndarray | None = None,
        group_escape: np.ndarray | None = None,
        lesion_secondary: np.ndarray | None = None,
        group_kill: np.ndarray | None = None,
        group_host: np.ndarray | None = None,
        lesion_scale: np.ndarray | None = None,
        exposure_cache: dict | None = None,
        pk_rows: np.ndarray | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray, DrugRates]]:
        """For one interval of ``dt_days``: ``(patients, durations, rates)`` per piece structure.

        Patients whose exposure changes at the same times share a structure; each structure is
        advanced on its own, so a patient's pieces (and hence its random numbers) never depend
        on other patients' schedules. Rates are indexed by patient (group).

        ``exposure_cache`` (a dict the caller keeps for one course, with ``pk`` unchanged): the
        exposure of every patient for a (regimen, start, pause, interval) already computed is
        looked up rather than computed again. Once on a regimen long enough that its start is
        canonical, a patient's key repeats at every visit; exposures are per patient, so the
        numbers are those computed for the patients alone. ``pk_rows[i]``: patient i's row of
        ``pk`` (default: row i), so that courses taking on patients of another course
        (:mod:`gistsim.clinic.lanes`) share its PK and its cache.
        """
        n = len(regimen)
        treated = (regimen >= 0) & (off_days < dt_days)
        # Patients grouped by the edges of their pieces: edges → [(patients, conc, drug code), ...]
        # (code: position in potency.drugs; untreated: no conc, code -1).
        by_edges: dict[tuple[float, ...], list[tuple[np.ndarray, np.ndarray | None, int]]] = {}
        if treated.any():
            start = self._canonical_start(regimen, days_on_regimen)
            keys = np.stack([regimen[treated], np.round(start[treated], 6), np.round(off_days[treated], 6)])
            uniq, inv = np.unique(keys, axis=1, return_inverse=True)
            pats = np.flatnonzero(treated)
            inv = inv.ravel()
            order = np.argsort(inv, kind="stable")
            cuts = np.searchsorted(inv[order], np.arange(uniq.shape[1] + 1))
            for g in range(uniq.shape[1]):
                r, start, off = int(uniq[0, g]), float(uniq[1, g]), float(uniq[2, g])
                who = pats[order[cuts[g] : cuts[g + 1]]]
                reg = self.regimens[r]
                code = self._drug_code[r]
                if exposure_cache is None:
                    mine = _subset(pk[reg.drug], who if pk_rows is None else pk_rows[who])
                    dur, conc = drugs.exposure_pieces(reg, mine, start + off, start + dt_days)
                    edges, c = _structure(dur, conc, off, dt_days)
                else:
                    # Cached with the key: the structure's edges and its rows for every patient, so
                    # a repeat costs one column selection.
                    key = (r, start, off, float(dt_days))
                    if key not in exposure_cache:
                        if len(exposure_cache) >= self.EXPOSURE_CACHE_SIZE:  # keys of early days do not recur
                            exposure_cache.clear()
                        exposure_cache[key] = _structure(
                            *drugs.exposure_pieces(reg, pk[reg.drug], start + off, start + dt_days), off, dt_days
                        )
                    edges, c_all = exposure_cache[key]
                    c = c_all[:, who if pk_rows is None else pk_rows[who]]
                by_edges.setdefault(edges, []).append((who, c, code))
        if not treated.all():
            by_edges.setdefault((0.0, float(dt_days)), []).append((np.flatnonzero(~treated), None, -1))
        common = dict(birth_rate_per_day=birth_per_day, death_rate_per_day=death_per_day, potency=self.potency,
                      group_scale=group_scale, group_growth=group_growth, group_escape=group_escape,
                      lesion_secondary=lesion_secondary, group_kill=group_kill, group_host=group_host,
                      lesion_scale=lesion_scale)  # fmt: skip
        out = []
        for edges in sorted(by_edges):
            parts = by_edges[edges]
            who = np.sort(np.concatenate([w for w, _, _ in parts])).astype(np.int64)
            durations = np.diff(np.array(edges))
            conc = np.zeros((len(durations), n))
            drugs_here = np.full(n, -1, dtype=np.int64)
            for w, c, code in parts:
                if c is not None:
                    conc[:, w] = c
                    drugs_here[w] = code
            if (drugs_here >= 0).any():
                rates = DrugRates(conc_ng_ml=conc, drug=drugs_here, **common)
            else:  # the kill factors have nothing to scale without a drug
                rates = DrugRates(n_pieces=len(durations), **common)
            out.append((who, durations, rates))
        return out
