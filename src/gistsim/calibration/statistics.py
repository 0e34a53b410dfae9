"""Computing a target's statistic from trial result rows, with a 95% interval.

:func:`derive` adds the columns targets filter on that are not stored as such (surgery status and
times from the operation, re-challenge after stopping, trough quartile, progression on the first
line); :func:`evaluate` computes one target on a trial's rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gistsim.calibration.targets import UNIT_DAYS, Target, wilson_interval
from gistsim.clinic.decisions import focal_lesions
from gistsim.trials.figures import parse_events
from gistsim.trials.lines import os_from_line_start


@dataclass
class Value:
    """A simulated value with its 95% interval and the number of patients it rests on."""

    value: float
    lo: float
    hi: float
    n: int


def derive(df: pd.DataFrame, visit_days: float) -> pd.DataFrame:
    """Rows with the derived columns targets may use (see the module docstring)."""
    df = df.copy()
    df["progressed"] = df["line1_ttp_event"].fillna(False).astype(bool)
    df["secondary_found"] = df["secondary_at_progression"] >= 1
    df["trough_quartile"] = 0
    for idx in df.groupby("arm").groups.values():
        t = df.loc[idx, "trough_ng_ml"]
        ok = t.notna()
        if ok.sum() >= 4:
            df.loc[t[ok].index, "trough_quartile"] = pd.qcut(t[ok], 4, labels=False).astype(int) + 1
    derived = [_from_events(parse_events(e), o, ev, visit_days) for e, o, ev in
               zip(df["events_json"], df["os_days"], df["os_event"])]  # fmt: skip
    for key in ("surgery_status", "surgery_pfs_days", "surgery_pfs_event", "surgery_os_days", "surgery_os_event",
                "restarted", "rechallenge_control"):  # fmt: skip
        df[key] = [d[key] for d in derived]
    return df


def _from_events(events: list[tuple[float, str, str]], os_days: float, os_event: bool, visit_days: float) -> dict[str, object]:
    """Status at the first operation and times from it; re-challenge control after a restart."""
    out: dict[str, object] = {"surgery_status": "none", "surgery_pfs_days": np.nan, "surgery_pfs_event": False,
                              "surgery_os_days": np.nan, "surgery_os_event": False, "restarted": False,
                              "rechallenge_control": False}  # fmt: skip
    progressions = [d for d, kind, _ in events if kind == "progression"]
    for day, kind, detail in events:
        status = None
        if kind == "residual_resection":
            status = "responsive"
        elif kind == "focal_progression":
            status = "focal" if len(focal_lesions(str(detail))) == 1 else "multifocal"
        if status is not None:
            nxt = next((d for d in progressions if d > day + 1e-9), math.inf)
            end = min(nxt, os_days)
            out |= {"surgery_status": status, "surgery_pfs_days": end - day,
                    "surgery_pfs_event": bool(nxt <= os_days or os_event),
                    "surgery_os_days": os_days - day, "surgery_os_event": bool(os_event)}  # fmt: skip
            break
    restart = next((d for d, kind, _ in events if kind == "restart"), None)
    if restart is not None:
        scan = restart + visit_days + 1e-6
        again = any(restart + 1e-9 < d <= scan for d in progressions)
        out |= {"restarted": True, "rechallenge_control": bool(not again and os_days > scan)}
    return out


def _endpoint(df: pd.DataFrame, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
    """(days, event) of an endpoint: pfs, os, ttp (first line), lineK_pfs/ttp/os, surgery_pfs/os."""
    if endpoint in ("pfs", "os"):
        return df[f"{endpoint}_days"].to_numpy(float), df[f"{endpoint}_event"].to_numpy(bool)
    if endpoint == "ttp":
        endpoint = "line1_ttp"
    if endpoint.startswith("surgery_"):
        return df[f"{endpoint}_days"].to_numpy(float), df[f"{endpoint}_event"].astype(bool).to_numpy()
    line, kind = endpoint.split("_", 1)
    if kind == "os":
        return os_from_line_start(df, int(line.removeprefix("line")))
    return df[f"{endpoint}_days"].to_numpy(float), df[f"{endpoint}_event"].astype(bool).to_numpy()


def select(df: pd.DataFrame, target: Target, arm: str | None = None) -> pd.DataFrame:
    rows = df[df["arm"] == arm] if arm is not None else df[df["arm"].isin(target.arms)]
    for column, accepted in target.where.items():
        if column not in rows.columns:
            raise KeyError(f"target {target.name!r}: where column {column!r} is not a result column")
        rows = rows[rows[column].isin(accepted)]
    return rows


def best_response_within(rows: pd.DataFrame, days: float) -> pd.Series:
    """Best response counting only CR/PR first read within ``days`` of the origin; a later CR is
    what came before it (PR if that was read in time, else SD), a later PR is SD."""
    best = rows["best_response"].copy()
    cr_late = (best == "CR") & ~(rows["first_cr_day"] <= days)
    pr_late = best.isin(["CR", "PR"]) & ~(rows["first_pr_day"] <= days)
    best[cr_late] = "PR"
    best[pr_late] = "SD"
    return best


def evaluate(df: pd.DataFrame, target: Target) -> Value:
    """The target's statistic on ``df`` (derived rows of its trial), in the published units."""
    from lifelines import CoxPHFitter, KaplanMeierFitter

    rows = select(df, target)
    nan = Value(math.nan, math.nan, math.nan, len(rows))
    if target.statistic == "proportion":
        col = rows[target.column]
        if target.follow_up is not None:
            col = best_response_within(rows, target.follow_up * UNIT_DAYS[target.unit])
        if target.exclude:
            col = col[~col.isin(target.exclude)]
        col = col.dropna()
        if not len(col):
            return nan
        hit = col >= target.at_least if target.at_least is not None else col.isin(target.values)
        return _wilson(int(hit.sum()), len(col))
    if target.statistic == "mean":
        x = rows[target.column].dropna().to_numpy(float)
        if not len(x):
            return nan
        se = x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.inf
        return Value(float(x.mean()), float(x.mean() - 1.96 * se), float(x.mean() + 1.96 * se), len(x))
    scale = UNIT_DAYS[target.unit]
    if target.statistic == "hazard_ratio":
        ref = select(df, target, target.reference_arm)
        both = pd.concat([ref, rows])
        days, event = _endpoint(both, target.endpoint)
        data = pd.DataFrame({"t": np.maximum(days, 1e-6), "e": event, "x": (both["arm"] == target.arm).to_numpy(float)})
        if data["e"].sum() < 2 or data["x"].nunique() < 2:
            return nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter().fit(data, "t", "e")
        ci = np.exp(cph.confidence_intervals_.iloc[0].to_numpy())
        return Value(float(np.exp(cph.params_.iloc[0])), float(ci[0]), float(ci[1]), len(both))
    days, event = _endpoint(rows, target.endpoint)
    ok = np.isfinite(days)
    days, event = days[ok], event[ok]
    if not len(days):
        return nan
    kmf = KaplanMeierFitter().fit(np.maximum(days, 0.0) / scale, event)
    if target.statistic == "median":
        from lifelines.utils import median_survival_times

        ci = median_survival_times(kmf.confidence_interval_).to_numpy().ravel()
        return Value(float(kmf.median_survival_time_), float(ci[0]), float(ci[1]), len(days))
    at = float(target.at)
    s = float(kmf.survival_function_at_times(at).iloc[0])
    band = kmf.confidence_interval_survival_function_
    row = band[band.index <= at].iloc[-1].to_numpy()
    lo, hi = float(min(row)), float(max(row))
    if target.statistic == "progressed_by":
        return Value(1 - s, 1 - hi, 1 - lo, len(days))
    return Value(s, lo, hi, len(days))


def _wilson(k: int, n: int) -> Value:
    lo, hi = wilson_interval(k / n, n)
    return Value(k / n, max(0.0, lo), min(1.0, hi), n)
