"""Outcomes of one trial arm by the tumour's driver: which patients make each part of the curves.

Calibration judges pooled figures (a median PFS, a 10-year rate), and a pooled figure can be right
for the wrong patients: with the shipped set of 2026-11-27e the first-line 10-year PFS tail
(5%) came almost entirely from wild-type and non-D842V PDGFRA patients (a quarter of each still
progression-free at 10 years) while KIT exon 11 — the long responders of the trials — had 1%.
The breakdown makes that visible in the validation report: per driver, its share of the arm,
response, median TTP, PFS and OS at landmarks, and its share of the arm's patients still
progression-free at the last landmark.

The report also breaks every arm down by line of therapy (:mod:`gistsim.trials.lines`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Landmarks (years) of the breakdown's PFS and OS columns.
LANDMARKS_YEARS = (3.0, 10.0)
_YEAR = 365.25


def _km(rows: pd.DataFrame, endpoint: str, label: str | None = None):
    """Kaplan–Meier fit of ``<endpoint>_days/event`` in years, rows without a time left out."""
    from lifelines import KaplanMeierFitter

    days = rows[f"{endpoint}_days"]
    ok = days.notna().to_numpy()
    event = rows[f"{endpoint}_event"].to_numpy(bool)[ok]
    return KaplanMeierFitter().fit(days.to_numpy(float)[ok] / _YEAR, event, label=label)


def _at(km, years: float) -> float:
    """Kaplan–Meier survival at ``years``; NaN past the last follow-up unless the curve has
    already reached 0 (not extrapolated)."""
    last = float(km.survival_function_.iloc[-1, 0])
    if years > float(km.timeline.max()) and last > 0:
        return math.nan
    return float(km.predict(years))


def by_driver(rows: pd.DataFrame, arm: str) -> pd.DataFrame:
    """One row per driver of ``arm``'s patients (and ``all``): n, share, ORR and CR (best response
    over evaluable patients), median first-line TTP (years), PFS and OS at :data:`LANDMARKS_YEARS`,
    median OS (years) and ``tail_share`` — the driver's share of the arm's expected number of
    patients progression-free at the last landmark (KM rate × n, over the arm's).

    ``rows``: result rows of a trial (columns ``arm``, ``driver``, ``best_response``,
    ``line1_ttp_days/event``, ``pfs_days/event``, ``os_days/event``)."""
    if "arm" not in rows or arm not in set(rows["arm"]):
        arms = sorted(set(rows["arm"])) if "arm" in rows else []
        raise ValueError(f"arm = {arm!r} is not in the rows; accepted: {', '.join(map(str, arms)) or 'none (no arm column)'}")
    sel = rows[rows["arm"] == arm]
    last = LANDMARKS_YEARS[-1]
    groups = [(str(d), g) for d, g in sel.groupby("driver", sort=True)] + [("all", sel)]
    out = []
    for driver, g in groups:
        evaluable = g["best_response"] != "NE"
        resp = g.loc[evaluable, "best_response"]
        ttp, pfs, os_ = (_km(g, e) for e in ("line1_ttp", "pfs", "os"))
        row = {"driver": driver, "n": len(g), "share": len(g) / len(sel),
               "orr": float(resp.isin(["CR", "PR"]).mean()) if len(resp) else math.nan,
               "cr": float((resp == "CR").mean()) if len(resp) else math.nan,
               "median_ttp_years": float(ttp.median_survival_time_)}  # fmt: skip
        for y in LANDMARKS_YEARS:
            row[f"pfs_{y:g}y"] = _at(pfs, y)
        for y in LANDMARKS_YEARS:
            row[f"os_{y:g}y"] = _at(os_, y)
        row["median_os_years"] = float(os_.median_survival_time_)
        out.append(row)
    table = pd.DataFrame(out)
    free = table[f"pfs_{last:g}y"] * table["n"]
    total = free.iloc[-1]
    table["tail_share"] = free / total if total > 0 else np.nan
    return table


def kaplan_meier_by_driver(rows: pd.DataFrame, arm: str, ax=None, endpoint: str = "pfs"):
    """Kaplan–Meier curves of ``endpoint`` (``pfs``, ``os`` or ``line1_ttp``) per driver of
    ``arm``, in years, on ``ax`` (a new figure when None); returns the axes."""
    accepted = ("pfs", "os", "line1_ttp")
    if endpoint not in accepted:
        raise ValueError(f"endpoint = {endpoint!r} is not accepted; accepted: {', '.join(accepted)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    sel = rows[rows["arm"] == arm]
    for driver, g in sel.groupby("driver", sort=True):
        if len(g) < 2:
            continue
        _km(g, endpoint, label=f"{driver} (n={len(g):,})").plot_survival_function(ax=ax, ci_show=False)
    ax.set_xlabel("years from randomisation")
    ax.set_ylabel(f"{endpoint}: event-free")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{arm}: {endpoint} by driver", fontsize=9)
    ax.legend(fontsize=7)
    return ax
