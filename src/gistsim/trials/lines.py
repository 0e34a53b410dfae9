"""Outcomes of a trial arm by line of therapy: where the arm's survival is spent.

Per line and regimen: how many patients reach it, when, how long it holds (its own PFS) and how
long patients live from its start. Pooled figures hide this: with calibrated-2026-12-02c the
later-lines arm lived about as long from ripretinib's start (fifth line, 42 months) as from
sunitinib's (third, 41) — survival after the last failure as long as after the first — which is
what the validation report's table of lines showed and calibrated-2026-12-03 corrected.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from gistsim.trials.analysis import DAYS_PER_MONTH
from gistsim.trials.runner import MAX_LINES

#: What the tables show, for the reports' captions.
CAPTION = ("each line and the regimen given in it: the patients reaching it, its median start (months from "
           "the time origin; negative before it), its own median PFS and the median OS from its start "
           "(Kaplan–Meier)")  # fmt: skip
COLUMNS = ["line", "regimen", "n", "share", "orr", "median_start_months", "median_pfs_months", "median_os_months"]


def _median_months(days: np.ndarray, event: np.ndarray) -> float:
    from lifelines import KaplanMeierFitter

    ok = np.isfinite(days)
    if not ok.any():
        return math.nan
    return float(KaplanMeierFitter().fit(days[ok] / DAYS_PER_MONTH, event[ok]).median_survival_time_)


def os_from_line_start(rows: pd.DataFrame, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(days, event) of overall survival from the start of line ``k`` (``os_days`` run from the
    time origin, ``lineK_start_day`` from the simulation's day 0)."""
    days = rows["time_origin_day"] + rows["os_days"] - rows[f"line{k}_start_day"]
    return days.to_numpy(float), rows["os_event"].to_numpy(bool)


def by_line(rows: pd.DataFrame, arm: str) -> pd.DataFrame:
    """One row per line of therapy and regimen given in it, over ``arm``'s patients: ``n``,
    ``share`` (of the arm), ``orr`` (CR or PR as the line's best response, over evaluable patients),
    ``median_start_months`` (from the arm's time origin; negative for lines begun before a
    randomisation), ``median_pfs_months`` (the line's own PFS) and ``median_os_months`` (from the
    line's start; Kaplan–Meier, ``inf`` when not reached).

    ``rows``: result rows of a trial (``arm``, ``time_origin_day``, ``os_days/event`` and the
    ``lineK_*`` columns)."""
    if "arm" not in rows or arm not in set(rows["arm"]):
        arms = sorted(set(rows["arm"])) if "arm" in rows else []
        raise ValueError(f"arm = {arm!r} is not in the rows; accepted: {', '.join(map(str, arms)) or 'none (no arm column)'}")
    sel = rows[rows["arm"] == arm]
    out = []
    for k in range(1, MAX_LINES + 1):
        if f"line{k}_regimen" not in sel:
            break
        for regimen, g in sel.groupby(f"line{k}_regimen", sort=True):
            start = g[f"line{k}_start_day"].to_numpy(float) - g["time_origin_day"].to_numpy(float)
            resp = g[f"line{k}_best_response"]
            resp = resp[resp != "NE"]
            out.append({
                "line": k, "regimen": str(regimen), "n": len(g), "share": len(g) / len(sel),
                "orr": float(resp.isin(["CR", "PR"]).mean()) if len(resp) else math.nan,
                "median_start_months": float(np.median(start)) / DAYS_PER_MONTH,
                "median_pfs_months": _median_months(g[f"line{k}_pfs_days"].to_numpy(float),
                                                    g[f"line{k}_pfs_event"].to_numpy(bool)),
                "median_os_months": _median_months(*os_from_line_start(g, k)),
            })  # fmt: skip
    return pd.DataFrame(out, columns=COLUMNS)


def _cell(column: str, x) -> str:
    if column in ("line", "regimen"):
        return html.escape(str(x))
    if column == "n":
        return f"{x:,}"
    if not math.isfinite(x):
        return "not reached" if x == math.inf else "–"
    return f"{100 * x:.0f}%" if column in ("share", "orr") else f"{x:.1f}"


def lines_table_html(table: pd.DataFrame) -> str:
    """An HTML table of :func:`by_line`'s rows (months to one decimal, shares in per cent)."""
    head = "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{_cell(c, r[c])}</td>" for c in COLUMNS) + "</tr>"
                   for _, r in table.iterrows())  # fmt: skip
    return f"<table>{head}{body}</table>"


def lines_html(tables: dict[str, pd.DataFrame], level: int) -> str:
    """One ``<h{level}>`` heading (the key) and table per entry of ``tables``."""
    return "".join(f"<h{level}>{html.escape(name)}</h{level}>{lines_table_html(t)}" for name, t in tables.items())
