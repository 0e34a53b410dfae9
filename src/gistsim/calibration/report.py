"""``validation.html`` and ``validation.json``: simulated against published, side by side.

The JSON is a list of objects (``name``, ``published``, ``simulated``, ``lo``, ``hi``,
``tolerance``, ``within``, and the trial, statistic, unit, source and a reason when outside).
The HTML has the table and one Kaplan–Meier panel per trial and endpoint, with the published
medians and landmark rates drawn over the simulated curves, then the first-line 400 mg arm broken
down by driver (:mod:`gistsim.calibration.breakdown`; also ``by_driver.json``), and every trial
arm by line of therapy (also ``by_line.json``). All are written atomically.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from gistsim.calibration.breakdown import by_driver, kaplan_meier_by_driver
from gistsim.calibration.simulate import Outcome
from gistsim.calibration.statistics import _endpoint, derive, select
from gistsim.calibration.targets import UNIT_DAYS, Target
from gistsim.trials.lines import CAPTION, by_line, lines_html
from gistsim.trials.report import _CSS, DISCLAIMER, _png, _write_atomic


#: The arm whose outcomes the report breaks down by driver: the first-line trials' standard dose.
BREAKDOWN = ("first-line-imatinib", "imatinib-400")


def write_validation(out: Path, outcomes: list[Outcome], targets: list[Target], frames: dict[str, pd.DataFrame],
                     visit_days: dict[str, float], header: dict[str, object]) -> list[Path]:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    doc = [o.to_dict() for o in outcomes]
    j = _write_atomic(out / "validation.json", (json.dumps(doc, indent=2) + "\n").encode())
    trial, arm = BREAKDOWN
    table = by_driver(frames[trial], arm) if trial in frames and arm in set(frames[trial]["arm"]) else None
    breakdown = "" if table is None else _breakdown(table, frames[trial])
    lines = {(t, a): by_line(df, a) for t, df in frames.items() for a in dict.fromkeys(df["arm"])}
    breakdown += _by_line_html(lines)
    h = _write_atomic(out / "validation.html", _html(outcomes, targets, frames, visit_days, header, breakdown).encode())
    doc = [{"trial": t, "arm": a, "rows": _json_rows(tab)} for (t, a), tab in lines.items()]
    paths = [h, j, _write_atomic(out / "by_line.json", (json.dumps(doc, indent=2) + "\n").encode())]
    if table is None:
        return paths
    doc = {"trial": trial, "arm": arm, "rows": _json_rows(table)}
    return [*paths, _write_atomic(out / "by_driver.json", (json.dumps(doc, indent=2) + "\n").encode())]


def _json_rows(table: pd.DataFrame) -> list[dict]:
    """Records of ``table`` with NaN (a landmark past follow-up) as null and inf (a median not
    reached) as "not reached": neither is JSON."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else "not reached" if v == math.inf else v)
             for k, v in r.items()} for r in table.to_dict("records")]  # fmt: skip


def headline(outcomes: list[Outcome]) -> str:
    k = sum(o.within for o in outcomes)
    return f"{k} of {len(outcomes)} targets ({k / len(outcomes):.0%}) within tolerance"


def _fmt(x: float, unit: str) -> str:
    if x is None or not math.isfinite(x):
        return "not reached" if x == math.inf else "–"
    if unit == "proportion":
        return f"{100 * x:.1f}%"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:,.0f}"


def _table(outcomes: list[Outcome]) -> str:
    rows = []
    for o in outcomes:
        tol = f"±{100 * o.tolerance:.1f} pts" if o.unit == "proportion" else f"±{o.tolerance:.3g}"
        mark = "✔" if o.within else "✘"
        style = "" if o.within else ' style="background:#fff0f0"'
        rows.append(
            f"<tr{style}><td>{html.escape(o.name)}</td><td>{_fmt(o.published, o.unit)}</td>"
            f"<td>{_fmt(o.simulated, o.unit)}</td><td>{_fmt(o.lo, o.unit)} – {_fmt(o.hi, o.unit)}</td>"
            f"<td>{o.n:,}</td><td>{tol} <small>({html.escape(o.tolerance_basis)})</small></td><td>{mark}</td>"
            f"<td style='text-align:left'><small>{html.escape(o.reason)}</small></td>"
            f"<td style='text-align:left'><small>{html.escape(o.source)}</small></td></tr>"
        )
    head = ("<tr><th>target</th><th>published</th><th>simulated</th><th>95% interval</th><th>n</th>"
            "<th>tolerance</th><th>within</th><th>reason if outside</th><th>source</th></tr>")  # fmt: skip
    return f"<table>{head}{''.join(rows)}</table>"


def _km_panels(targets: list[Target], frames: dict[str, pd.DataFrame], visit_days: dict[str, float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    panels: dict[tuple[str, str], list[Target]] = defaultdict(list)
    for t in targets:
        if t.statistic in ("median", "survival_at", "progressed_by") and t.trial in frames:
            panels[(t.trial, t.endpoint)].append(t)
    derived = {name: derive(df, visit_days[name]) for name, df in frames.items()}
    parts = []
    for (trial, endpoint), ts in panels.items():
        fig, ax = plt.subplots(figsize=(7, 4))
        curves: dict[str, Target] = {}
        for t in ts:
            label = "+".join(t.arms) + "".join(f", {k}={'/'.join(map(str, v))}" for k, v in t.where.items() if k != "randomised")
            curves.setdefault(label, t)
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        unit = ts[0].unit
        for i, (label, t) in enumerate(curves.items()):
            rows = select(derived[trial], t)
            days, event = _endpoint(rows, endpoint)
            ok = np.isfinite(days)
            if ok.sum() < 2:
                continue
            c = colours[i % len(colours)]
            KaplanMeierFitter().fit(np.maximum(days[ok], 0) / UNIT_DAYS[unit], event[ok], label=label).plot_survival_function(
                ax=ax, color=c, ci_show=True
            )
            for u in ts:
                if u.arm != t.arm or u.where != t.where:
                    continue
                scale = UNIT_DAYS[u.unit] / UNIT_DAYS[unit]
                if u.statistic == "median":
                    x, y, xerr, yerr = u.published * scale, 0.5, u.tolerance * scale, None
                else:
                    x = float(u.at) * scale
                    y = u.published if u.statistic == "survival_at" else 1 - u.published
                    xerr, yerr = None, u.tolerance
                ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="D", color=c, mec="black", capsize=3)
        ax.set_xlabel(f"{unit} from {'line start' if endpoint.startswith('line') else 'operation' if endpoint.startswith('surgery') else 'randomisation'}")
        ax.set_ylabel(f"{endpoint}: event-free")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{trial}: {endpoint} (curves simulated; diamonds published ± tolerance)", fontsize=9)
        ax.legend(fontsize=7)
        parts.append(f'<img alt="{html.escape(trial)} {endpoint}" src="data:image/png;base64,{_png(ax)}">')
        plt.close(fig)
    return "\n".join(parts)


def _breakdown(table: pd.DataFrame, rows: pd.DataFrame) -> str:
    """:data:`BREAKDOWN`'s arm by driver: ``table`` (from :func:`by_driver`) and the PFS curves of
    the trial's ``rows``."""
    import matplotlib.pyplot as plt

    trial, arm = BREAKDOWN
    cols = [c for c in table.columns if c != "driver"]
    head = "<tr><th>driver</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"
    body = "".join(
        "<tr><td>" + html.escape(r["driver"]) + "</td>"
        + "".join(f"<td>{r[c]:,}</td>" if c == "n" else f"<td>{_fmt(r[c], 'x')}</td>" for c in cols) + "</tr>"
        for _, r in table.iterrows()
    )
    ax = kaplan_meier_by_driver(rows, arm)
    img = f'<img alt="{html.escape(arm)} PFS by driver" src="data:image/png;base64,{_png(ax)}">'
    plt.close(ax.figure)
    return (f"<h2>{html.escape(trial)}, {html.escape(arm)}: outcomes by driver</h2>"
            "<p>Which patients make the pooled figures: <code>tail_share</code> is each driver's share of the "
            "arm's patients progression-free at 10 years. Times in years; rates from Kaplan–Meier.</p>"
            f"<table>{head}{body}</table>{img}")  # fmt: skip


def _by_line_html(lines: dict[tuple[str, str], pd.DataFrame]) -> str:
    """One table per trial arm: its lines of therapy (from :func:`~gistsim.trials.lines.by_line`)."""
    return (f"<h2>Lines of therapy</h2><p>Per trial arm, {CAPTION}; months: where the arm's survival is "
            f"spent.</p>{lines_html({f'{t}, {a}': table for (t, a), table in lines.items()}, 3)}")


def _html(outcomes, targets, frames, visit_days, header, breakdown: str = "") -> str:
    outside = [o for o in outcomes if not o.within]
    meta = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in header.items())
    lst = "".join(f"<li><b>{html.escape(o.name)}</b>: {html.escape(o.reason)}</li>" for o in outside)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>gistsim validation</title>
<style>{_CSS}</style></head><body>
<h1>gistsim: simulated against published</h1>
<p class="disclaimer">{html.escape(DISCLAIMER)}</p>
<h2>{html.escape(headline(outcomes))}</h2>
<table class="meta">{meta}</table>
{_table(outcomes)}
<h2>Outside tolerance</h2><ul>{lst or '<li>none</li>'}</ul>
<h2>Kaplan–Meier curves with the published values</h2>
{_km_panels(targets, frames, visit_days)}
{breakdown}
</body></html>"""
