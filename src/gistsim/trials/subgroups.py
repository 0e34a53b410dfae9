"""Hazard ratios within subgroups of patients, and their forest plot: for whom does an arm do
better than the first? (The founding case asks it of resection: by genotype, by number of
lesions.)

Within each level of each baseline variable, every arm is compared with the first by the same
pairwise Cox model as the whole trial (:func:`gistsim.trials.analysis._fit_cox`, lifelines). The
estimates are descriptive: no test of interaction, no correction for the number of subgroups.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gistsim.trials.baseline import level_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Rows read at most (the first blocks'; patients are exchangeable across blocks). Each level costs
#: a lifelines Cox fit per arm, ~0.6 s at 3,000 patients an arm (its Efron loop runs over the
#: distinct event times): the default trial's 20,000 patients (80,000 rows) took 28 s for 48 fits
#: when sex and primary site had subgroups too,
#: and a million-patient trial stays near that rather than growing with it.
SUBGROUP_MAX_ROWS = 100_000
#: A level is compared only with at least this many patients and events in each of the two arms.
MIN_PATIENTS, MIN_EVENTS = 20, 5
#: Age cut: 60 years, prognostic in EORTC 62005's long-term analysis (calibration_targets.md:
#: "age <60" among the factors of long survival).
AGE_CUT_YEARS = 60.0


def _levels(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """Baseline variable -> each row's level. Only variables the model's courses depend on: the
    driver (potency, resistance), age (background mortality) and the lesions at baseline (burden).
    Sex and primary site change no course (:func:`gistsim.clinic.cohort._draw_site_and_sex`): their
    subgroups would show noise, or the drivers' effects through genotype by site, as if they were
    their own."""
    out = {"driver": rows["driver"]}
    out["age"] = pd.Series(np.where(rows["age_years"] < AGE_CUT_YEARS, f"< {AGE_CUT_YEARS:.0f}",
                                    f"≥ {AGE_CUT_YEARS:.0f}"), index=rows.index)  # fmt: skip
    # Lesions at baseline: one (the founding case's resectable situation), a few, many (a display choice).
    out["lesions"] = pd.Series(np.select([rows["n_lesions"] <= 1, rows["n_lesions"] <= 3], ["1", "2–3"], "≥ 4"),
                               index=rows.index)  # fmt: skip
    return out


def read_rows(files: list[Path], columns: tuple[str, str], population: str) -> tuple[pd.DataFrame, int]:
    """The first blocks' rows (up to :data:`SUBGROUP_MAX_ROWS`) with the baseline variables and the
    endpoint's ``columns``; the number of patients read."""
    from gistsim.trials.analysis import first_rows

    base = ["patient_id", "arm", "randomised", "driver", "age_years", "n_lesions", *columns]
    rows = first_rows(files, base, SUBGROUP_MAX_ROWS, population)
    if rows is None:
        return pd.DataFrame(columns=base), 0
    return rows, int(rows["patient_id"].nunique())


def subgroup_hazard_ratios(rows: pd.DataFrame, arms: list[str], columns: tuple[str, str], days_per_month: float,
                           cluster: bool = False) -> pd.DataFrame:  # fmt: skip
    """One row per variable, level and arm after the first: patients and events in the first arm
    and in the arm, and the hazard ratio with its 95% CI (NaN when the level is too small:
    :data:`MIN_PATIENTS`, :data:`MIN_EVENTS`)."""
    from gistsim.trials.analysis import _fit_cox

    duration, event_col = columns
    ref, out = arms[0], []
    for variable, level_of in _levels(rows).items():
        for level in sorted(level_of.dropna().unique(), key=str):
            part = rows[(level_of == level).to_numpy()].reset_index(drop=True)
            t, event = part[duration].to_numpy(float) / days_per_month, part[event_col].to_numpy(bool)
            by_arm = {a: (part["arm"] == a).to_numpy() for a in arms}
            for arm in arms[1:]:
                counts = {k: int(by_arm[a].sum()) for k, a in (("n_reference", ref), ("n_arm", arm))}
                counts |= {k: int(event[by_arm[a]].sum()) for k, a in (("events_reference", ref), ("events_arm", arm))}
                row = {"variable": variable, "level": str(level), "arm": arm, **counts,
                       "hr": math.nan, "ci_lower": math.nan, "ci_upper": math.nan}  # fmt: skip
                if min(counts["n_reference"], counts["n_arm"]) >= MIN_PATIENTS and \
                        min(counts["events_reference"], counts["events_arm"]) >= MIN_EVENTS:
                    cph = _fit_cox(part, t, event, ref, arm, by_arm, cluster, f"{variable} {level}", [])
                    if cph is not None:
                        s = cph.summary.iloc[0]
                        row.update(hr=float(s["exp(coef)"]), ci_lower=float(s["exp(coef) lower 95%"]),
                                   ci_upper=float(s["exp(coef) upper 95%"]))  # fmt: skip
                out.append(row)
    return pd.DataFrame(out, columns=["variable", "level", "arm", "n_reference", "n_arm", "events_reference",
                                      "events_arm", "hr", "ci_lower", "ci_upper"])  # fmt: skip


def to_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """``table`` with JSON types only (``None`` for a hazard ratio not estimated)."""
    def num(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    return [{**{k: r[k] for k in ("variable", "level", "arm")},
             **{k: int(r[k]) for k in ("n_reference", "n_arm", "events_reference", "events_arm")},
             **{k: num(r[k]) for k in ("hr", "ci_lower", "ci_upper")}} for r in table.to_dict("records")]  # fmt: skip


def plot_forest(table: pd.DataFrame, reference: str, endpoint: str, *, ax: Axes | None = None) -> Axes:
    """Hazard ratios vs ``reference`` by subgroup, one marker and 95% CI per arm, log scale."""
    from matplotlib.figure import Figure

    shown = table[np.isfinite(table["hr"])]
    levels = list(dict.fromkeys(zip(shown["variable"], shown["level"])))
    arms = list(dict.fromkeys(shown["arm"]))
    if ax is None:
        ax = Figure(figsize=(8.0, 1.2 + 0.32 * max(len(levels), 1))).add_subplot()
    colours = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e")
    for k, arm in enumerate(arms):
        mine = shown[shown["arm"] == arm]
        y = np.array([levels.index((v, lv)) for v, lv in zip(mine["variable"], mine["level"])]) + (k - (len(arms) - 1) / 2) * 0.18
        ax.errorbar(mine["hr"], y, xerr=[mine["hr"] - mine["ci_lower"], mine["ci_upper"] - mine["hr"]], fmt="o",
                    ms=4, lw=1, capsize=2, color=colours[k % len(colours)], label=f"{arm} vs {reference}")  # fmt: skip
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    lo, hi = float(shown["ci_lower"].min()), float(shown["ci_upper"].max())
    ticks = [x for x in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0) if lo / 1.5 <= x <= hi * 1.5] or [1.0]
    ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
    ax.xaxis.set_minor_formatter("")
    ax.set_yticks(range(len(levels)), [f"{v.replace('_', ' ')}: {level_label(v, lv)}" for v, lv in levels])
    ax.invert_yaxis()
    ax.set_xlabel(f"hazard ratio of {endpoint} (95% CI; < 1 favours the arm)")
    ax.legend(loc="best", fontsize=8)
    ax.figure.tight_layout()
    return ax
