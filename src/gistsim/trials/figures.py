"""Figures of a trial analysis: Kaplan–Meier curves with numbers at risk, best response, swimmer plot.

Each ``plot_*`` function draws on ``ax`` (a new figure when ``None``) and returns the axes, as
lifelines' plotting functions do. New figures are ``matplotlib.figure.Figure`` objects, not pyplot
figures, so nothing accumulates in pyplot's global state and no backend is switched.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from gistsim.trials.analysis import BEST_RESPONSES, DAYS_PER_MONTH

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from gistsim.trials.analysis import TrialAnalysis

_RESPONSE_COLOURS = {"CR": "#1a9850", "PR": "#91cf60", "SD": "#fee08b", "PD": "#d73027", "NE": "#bdbdbd"}
_DRUG_COLOURS = {"imatinib": "#4575b4", "sunitinib": "#f46d43", "regorafenib": "#1b9e77",
                 "ripretinib": "#984ea3", "avapritinib": "#e7298a"}  # fmt: skip
_OTHER_COLOURS = ("#a6761d", "#66a61e", "#7570b3", "#e6ab02", "#666666")
_NO_DRUG = ("", "none", "best_supportive_care")
_MARKS = {  # kind -> (marker, colour, label)
    "surgery": ("v", "black", "surgery"), "residual_resection": ("v", "black", "surgery"),
    "progression": ("X", "#d73027", "progression"), "focal_progression": ("X", "#fdae61", "focal progression"),
    "death": ("*", "black", "death"), "perioperative_death": ("*", "black", "death"),
    "dose_reduction": ("1", "#555555", "dose reduction"),
}  # fmt: skip


def _new_axes(figsize: tuple[float, float]) -> Axes:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize).add_subplot()


def drug_of(regimen: str) -> str:
    """The drug of a regimen name (``imatinib_400mg_daily`` -> ``imatinib``); ``""`` for no drug."""
    return "" if regimen in _NO_DRUG else regimen.split("_", 1)[0]


def parse_events(text: str, *, where: str = "events_json") -> list[tuple[float, str, str]]:
    """``events_json`` text -> time-sorted ``(day, kind, detail)``; ``ValueError`` naming ``where`` if malformed."""
    try:
        raw = json.loads(text) if text else []
        events = [(float(e[0]), str(e[1]), "" if len(e) < 3 or e[2] is None else str(e[2])) for e in raw]
    except (json.JSONDecodeError, TypeError, ValueError, IndexError, KeyError) as err:
        shown = text if len(text) < 80 else text[:77] + "..."
        raise ValueError(f"{where} = {shown!r} is not accepted ({err}): give a JSON list of "
                         "[day, kind, detail] entries")  # fmt: skip
    return sorted(events, key=lambda e: e[0])


def plot_kaplan_meier(analysis: TrialAnalysis, endpoint: str, *, ax: Axes | None = None,
                      at_risk: bool = True) -> Axes:  # fmt: skip
    """Kaplan–Meier curves of ``endpoint`` per arm with 95% bands and, below, the numbers at risk."""
    from lifelines.plotting import add_at_risk_counts

    if endpoint not in analysis.kaplan_meier:
        raise ValueError(f"endpoint = {endpoint!r} is not known; accepted values: {list(analysis.kaplan_meier)}")
    ax = ax if ax is not None else _new_axes((8.0, 5.5))
    fitters = [analysis.kaplan_meier[endpoint][arm] for arm in analysis.arms]
    for kmf in fitters:
        kmf.plot_survival_function(ax=ax, ci_show=True, ci_alpha=0.15, show_censors=False)
    horizon = analysis.rmst_horizon_days / DAYS_PER_MONTH
    ax.axvline(horizon, color="grey", lw=0.8, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel("months from the trial's time origin")
    ax.set_ylabel(f"{endpoint} probability")
    ax.set_title(f"{endpoint}: Kaplan–Meier with 95% CI (dotted: RMST horizon)")
    ax.legend(frameon=False, loc="upper right")
    if at_risk:
        add_at_risk_counts(*fitters, ax=ax, fig=ax.figure, rows_to_show=["At risk"])
    return ax


def plot_best_response(analysis: TrialAnalysis, *, ax: Axes | None = None) -> Axes:
    """Stacked bars of the share of each best response per arm, with the counts written in."""
    ax = ax if ax is not None else _new_axes((7.0, 0.6 * len(analysis.arms) + 1.6))
    counts = analysis.best_response.loc[analysis.arms, list(BEST_RESPONSES)].to_numpy(dtype=float)
    share = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    y = np.arange(len(analysis.arms))
    left = np.zeros(len(y))
    for j, resp in enumerate(BEST_RESPONSES):
        ax.barh(y, share[:, j], left=left, color=_RESPONSE_COLOURS[resp], label=resp, height=0.6)
        for i in range(len(y)):
            if share[i, j] >= 6:
                ax.text(left[i] + share[i, j] / 2, y[i], f"{int(counts[i, j])}", ha="center", va="center", fontsize=8)
        left += share[:, j]
    ax.set_yticks(y, analysis.arms)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of patients (numbers: counts)")
    ax.set_title("Best overall response per arm")
    ax.legend(ncol=len(BEST_RESPONSES), frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.08), fontsize=8)
    return ax


def _lanes(analysis: TrialAnalysis, n_patients: int, seed: int | None) -> list[tuple[str, Any]]:
    data = analysis.data
    pool = data.loc[data["randomised"], "patient_id"] if data["randomised"].any() else data["patient_id"]
    ids = np.unique(pool.to_numpy())
    rng = np.random.default_rng(analysis.seed if seed is None else seed)
    chosen = np.sort(rng.choice(ids, size=min(n_patients, len(ids)), replace=False))
    rows = data[data["patient_id"].isin(chosen)].merge(analysis.events(chosen), on=["patient_id", "arm"])
    rows = rows.set_index(["patient_id", "arm"])
    return [(f"{pid} · {arm}", rows.loc[(pid, arm)]) for pid in chosen for arm in analysis.arms
            if (pid, arm) in rows.index]  # fmt: skip


def plot_swimmer(analysis: TrialAnalysis, *, n_patients: int = 20, seed: int | None = None,
                 ax: Axes | None = None) -> Axes:  # fmt: skip
    """Swimmer plot of ``n_patients`` patients drawn with ``seed`` (default: the trial's seed).

    Randomised patients are drawn when there are any; each is shown once per arm on adjacent lanes.
    Bars are the regimens taken (coloured by drug; gaps are time off drug), markers show surgery,
    progression, focal progression, dose reductions and death; the thin line is follow-up (to
    the longest endpoint duration or the last event). Days before the time origin are drawn too.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lanes = _lanes(analysis, n_patients, seed)
    ax = ax if ax is not None else _new_axes((9.0, 0.22 * len(lanes) + 1.8))
    colour_of = dict(_DRUG_COLOURS)
    used_drugs: dict[str, str] = {}
    used_marks: dict[str, tuple[str, str]] = {}
    for y, (label, row) in enumerate(lanes):
        events = parse_events(row["events_json"], where=f"events_json of patient_id {label}")
        end = max([float(row[dur]) for dur, _ in analysis.endpoints.values()] + [d for d, _, _ in events])
        start = min([0.0] + [d for d, _, _ in events])
        ax.plot([start / DAYS_PER_MONTH, end / DAYS_PER_MONTH], [y, y], color="#bbbbbb", lw=0.8, zorder=1)
        segments: list[tuple[float, float, str]] = []
        current, since, last = "", 0.0, ""
        for day, kind, detail in events:
            if kind in ("line_start", "restart", "stop", "discontinuation", "death", "perioperative_death"):
                if current:
                    segments.append((since, day, current))
                current = ""
                if kind == "line_start" or kind == "restart":
                    current = drug_of(detail) if detail else last
                    since, last = day, current or last
            if kind in _MARKS:
                marker, colour, name = _MARKS[kind]
                ax.plot(day / DAYS_PER_MONTH, y, marker=marker, color=colour, ms=6, ls="none", zorder=3)
                used_marks[name] = (marker, colour)
        if current:
            segments.append((since, end, current))
        if not any(kind in ("death", "perioperative_death") for _, kind, _ in events):
            ax.plot(end / DAYS_PER_MONTH, y, marker=">", color="#777777", ms=4, ls="none", zorder=3)
            used_marks["alive at end of follow-up"] = (">", "#777777")
        for a, b, drug in segments:
            colour = colour_of.setdefault(drug, _OTHER_COLOURS[(len(colour_of) - len(_DRUG_COLOURS)) % 5])
            ax.barh(y, (b - a) / DAYS_PER_MONTH, left=a / DAYS_PER_MONTH, height=0.6, color=colour, zorder=2)
            used_drugs[drug] = colour
    patient = [lab.split(" · ")[0] for lab, _ in lanes]
    for y in range(1, len(lanes)):
        if patient[y] != patient[y - 1]:
            ax.axhline(y - 0.5, color="#dddddd", lw=0.6, zorder=0)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(lanes)), [lab for lab, _ in lanes], fontsize=6)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_xlabel("months from the trial's time origin (dashed line)")
    ax.set_title(f"Swimmer plot: {len(set(patient))} patients, one lane per arm")
    handles = [Patch(color=c, label=d) for d, c in used_drugs.items()]
    handles += [Line2D([], [], marker=m, color=c, ls="none", label=n) for n, (m, c) in used_marks.items()]
    ax.legend(handles=handles, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def plot_sweep(result: Any) -> Any:
    """A :class:`gistsim.trials.sweep.SweepResult` as two panels over the parameter's values: median
    OS per arm with its 95% CI (left), and the OS hazard ratio of each arm against the first with
    its 95% CI (right, log scale). Returns the ``Figure``."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    doc = result.to_dict()
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    x = np.asarray(result.values, dtype=float)
    colours = [*_DRUG_COLOURS.values(), *_OTHER_COLOURS]
    for k, (arm, cols) in enumerate(doc["arms"].items()):
        c = colours[k % len(colours)]
        med = np.array([np.nan if v is None else v for v in cols["median_os_months"]], dtype=float)
        lo = np.array([np.nan if ci[0] is None else ci[0] for ci in cols["median_os_ci"]], dtype=float)
        hi = np.array([np.nan if ci[1] is None else ci[1] for ci in cols["median_os_ci"]], dtype=float)
        left.errorbar(x, med, yerr=[med - lo, hi - med], color=c, marker="o", capsize=3, label=arm)
        if arm == doc["reference_arm"]:
            continue
        hr = np.array([np.nan if v is None else v for v in cols["hr_os_vs_first"]], dtype=float)
        ci = [(np.nan, np.nan) if v is None else v for v in cols["hr_os_ci"]]
        hr_lo, hr_hi = np.array([a for a, _ in ci], dtype=float), np.array([b for _, b in ci], dtype=float)
        right.errorbar(x, hr, yerr=[hr - hr_lo, hr_hi - hr], color=c, marker="o", capsize=3, label=arm)
    left.set(xlabel=result.parameter, ylabel="median OS (months)", title="median OS (95% CI)")
    right.axhline(1.0, color="grey", lw=0.8, ls="--")
    right.set_yscale("log")
    # Hazard ratios read as plain numbers (1.5, 2, 3), not powers of ten.
    right.yaxis.set_major_locator(LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    right.yaxis.set_major_formatter(ScalarFormatter())
    right.yaxis.set_minor_formatter(NullFormatter())
    right.set(xlabel=result.parameter, ylabel=f"OS hazard ratio vs {doc['reference_arm']}",
              title="OS hazard ratio (95% CI)")  # fmt: skip
    left.legend(fontsize=8)
    if right.lines:
        right.legend(fontsize=8)
    fig.suptitle(f"{result.trial}: {result.parameter}", fontsize=10)
    return fig
