"""The trial report: a self-contained ``report.html`` (figures embedded as PNG) and ``summary.json``.

Both files are written atomically: to a temporary file in the output folder, then ``os.replace``,
so a reader never sees a half-written report and an interrupted run leaves the old one intact.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import uuid
from pathlib import Path

import numpy as np

from gistsim.trials.analysis import BEST_RESPONSES, DAYS_PER_MONTH, TrialAnalysis
from gistsim.trials.baseline import baseline_html
from gistsim.trials.figures import plot_best_response, plot_kaplan_meier, plot_swimmer
from gistsim.trials.lines import CAPTION, lines_html
from gistsim.trials.subgroups import MIN_EVENTS, MIN_PATIENTS, plot_forest

DISCLAIMER = ("Research use only. These are simulated patients from a mechanistic model; the results are "
              "not clinical evidence and not a substitute for clinical judgement.")  # fmt: skip
_CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f2f2f2}img{max-width:100%}
.disclaimer{border:2px solid #d73027;background:#fff5f0;padding:0.6em 1em;font-weight:600}
.meta td{text-align:left}p.methods{line-height:1.45}"""


def write_report(analysis: TrialAnalysis, out_dir: str | Path, *, swimmer_patients: int = 20) -> list[Path]:
    """Write ``report.html`` and ``summary.json`` of ``analysis`` into ``out_dir``; return their paths.

    ``swimmer_patients`` patients (drawn with the trial's seed) appear in the swimmer plot.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = _write_atomic(out_dir / "summary.json", (analysis.to_json() + "\n").encode())
    report_path = _write_atomic(out_dir / "report.html", _html(analysis, swimmer_patients).encode())
    return [report_path, summary_path]


def _write_atomic(path: Path, payload: bytes) -> Path:
    # Not mkstemp, which makes the file private (0600): a report is shared like the Parquet files
    # beside it, so it is created with the umask's permissions, as they are.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _png(ax) -> str:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(ax, alt: str) -> str:
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(ax)}"></figure>'


def _num(x: float, digits: int = 1) -> str:
    return "NR" if math.isinf(x) else ("–" if math.isnan(x) else f"{x:.{digits}f}")


def _with_ci(x: float, lo: float, hi: float, digits: int) -> str:
    if math.isnan(x):
        return "–"
    return f"{_num(x, digits)} ({_num(lo, digits)}–{_num(hi, digits)})"


def summary_cell(x: float | None, ci: list[float | None] | tuple | None = None, digits: int = 1) -> str:
    """A ``summary.json`` value with its interval, for Markdown tables: ``None`` with an interval is a
    median not reached ("NR"; so is a missing upper bound), ``None`` without one is not estimable ("—")."""
    if x is None:
        return "—" if ci is None else "NR"
    if ci is None:
        return f"{x:.{digits}f}"
    lo, hi = ci
    return f"{x:.{digits}f} ({'—' if lo is None else f'{lo:.{digits}f}'}–{'NR' if hi is None else f'{hi:.{digits}f}'})"


def _p(p: float) -> str:
    return "–" if math.isnan(p) else ("&lt;0.001" if p < 0.001 else f"{p:.3f}")


def _endpoint_table(analysis: TrialAnalysis, endpoint: str) -> str:
    head = ("<tr><th>Arm</th><th>n</th><th>Events</th><th>Median, months (95% CI)</th>"
            f"<th>RMST to {analysis.rmst_horizon_days / DAYS_PER_MONTH:.0f} mo, months</th>"
            f"<th>HR vs {html.escape(analysis.reference_arm)} (95% CI)</th><th>Log-rank p</th></tr>")  # fmt: skip
    body = []
    for _, r in analysis.summary[analysis.summary["endpoint"] == endpoint].iterrows():
        hr = "reference" if r["arm"] == analysis.reference_arm else _with_ci(
            r["hr_vs_first"], r["hr_ci_lower"], r["hr_ci_upper"], 2)  # fmt: skip
        cells = [html.escape(r["arm"]), str(r["n"]), str(r["events"]),
                 _with_ci(r["median_months"], r["median_ci_lower_months"], r["median_ci_upper_months"], 1),
                 _num(r["rmst_months"]), hr, _p(r["logrank_p"])]  # fmt: skip
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<h3>{html.escape(endpoint)}</h3><table>{head}{''.join(body)}</table>"


def _response_table(analysis: TrialAnalysis) -> str:
    br = analysis.best_response
    head = "<tr><th>Arm</th>" + "".join(f"<th>{r}</th>" for r in BEST_RESPONSES) + "<th>ORR (CR+PR)</th></tr>"
    body = []
    for arm in analysis.arms:
        c = br.loc[arm]
        n = max(int(c.sum()), 1)
        cells = [f"{int(c[r])} ({100 * c[r] / n:.0f}%)" for r in BEST_RESPONSES]
        cells.append(f"{100 * (c['CR'] + c['PR']) / n:.0f}%")
        body.append(f"<tr><td>{html.escape(arm)}</td>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _methods(analysis: TrialAnalysis) -> str:
    pop = ("patients randomised into the comparison (rows with <code>randomised</code> true)"
           if analysis.population == "randomised" else "all simulated patients")  # fmt: skip
    variance = ("cluster-robust (sandwich) variance with patients as clusters, which accounts for the arms "
                "sharing patients" if analysis.cluster_by_patient else "model-based variance; because every "
                "arm treats the same virtual patients the arms are not independent samples, so these "
                "intervals and the log-rank p-values are approximate (usually conservative)")  # fmt: skip
    eps = ", ".join(html.escape(e) for e in analysis.endpoints)
    return (
        f"<p class='methods'>The analysis population is {pop}. Times are measured from the trial's time "
        f"origin and shown in months (days / {DAYS_PER_MONTH}). For each endpoint ({eps}) and arm, survival "
        "was estimated by Kaplan–Meier with 95% pointwise confidence intervals (lifelines "
        "<code>KaplanMeierFitter</code>, exponential Greenwood); medians and their 95% CIs are where the "
        "curve and its confidence limits cross 0.5 (NR: not reached). The restricted mean survival time "
        f"(RMST) is the area under the Kaplan–Meier curve up to {analysis.rmst_horizon_days:.0f} days. "
        f"Each arm is compared with the reference arm <b>{html.escape(analysis.reference_arm)}</b> by a "
        "log-rank test and by a Cox proportional-hazards model fitted on the two arms' rows only (one "
        f"indicator for the arm, Efron ties; lifelines <code>CoxPHFitter</code>), with {variance}. "
        "All estimates are from lifelines; none is hand-written.</p>"
    )


def _lines_html(analysis: TrialAnalysis) -> str:
    if not analysis.lines:
        return ""
    first = ("" if analysis.lines_patients >= analysis.n_patients
             else f" Over the first {analysis.lines_patients:,} patients of the {analysis.n_patients:,}.")  # fmt: skip
    return f"<h3>Lines of therapy</h3><p>Per arm, {CAPTION}.{first}</p>{lines_html(analysis.lines, 4)}"


def _patients_html(analysis: TrialAnalysis) -> list[str]:
    table = analysis.baseline
    if not table:
        return []
    groups = ["all"] + (["randomised"] if table["randomised"]["n"] != table["all"]["n"] else [])
    return ["<h2>Patients</h2>", "<p>Baseline characteristics (every arm treats the same patients).</p>",
            baseline_html(table, groups)]  # fmt: skip


def _subgroups_html(analysis: TrialAnalysis) -> list[str]:
    table = analysis.subgroups
    if table is None or not np.isfinite(table["hr"]).any():
        return []
    over = ("" if analysis.subgroup_patients >= analysis.n_patients
            else f" over the first {analysis.subgroup_patients:,} patients of the {analysis.n_patients:,}")  # fmt: skip
    caption = (f"<p>Hazard ratios of {html.escape(analysis.subgroup_endpoint)} against "
               f"<b>{html.escape(analysis.reference_arm)}</b> within subgroups of the analysed patients{over}: "
               "the same pairwise Cox model as above, within each level (levels with fewer than "
               f"{MIN_PATIENTS} patients or {MIN_EVENTS} events in an arm are left out). Descriptive: no test "
               "of interaction and no correction for the number of subgroups. The numbers are in "
               "<code>summary.json</code> (<code>subgroups</code>).</p>")  # fmt: skip
    ax = plot_forest(table, analysis.reference_arm, analysis.subgroup_endpoint)
    return ["<h3>Subgroups</h3>", caption, _figure(ax, f"Hazard ratios of {analysis.subgroup_endpoint} by subgroup")]


def _html(analysis: TrialAnalysis, swimmer_patients: int) -> str:
    esc = html.escape
    meta_rows = [("Trial", analysis.trial_name), ("gistsim version (simulation)", analysis.version),
                 ("Seed", analysis.seed), ("Arms", ", ".join(analysis.arms)),
                 ("Analysis population", analysis.population), ("Patients analysed", analysis.n_patients),
                 ("Results folder", analysis.results_dir)]  # fmt: skip
    meta = "".join(f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in meta_rows)
    figs = [_figure(plot_kaplan_meier(analysis, e), f"Kaplan–Meier curves of {e}") for e in analysis.endpoints]
    figs.append(_figure(plot_best_response(analysis), "Best response per arm"))
    figs.append(_figure(plot_swimmer(analysis, n_patients=swimmer_patients), "Swimmer plot"))
    figs += _subgroups_html(analysis)
    notes = "".join(f"<li>{esc(n)}</li>" for n in analysis.notes)
    return "\n".join([
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>gistsim trial report: {esc(analysis.trial_name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>In-silico trial: {esc(analysis.trial_name)}</h1>",
        f"<p class='disclaimer'>{esc(DISCLAIMER)}</p>",
        f"<table class='meta'>{meta}</table>",
        *_patients_html(analysis),
        "<h2>Methods</h2>", _methods(analysis),
        "<h2>Results</h2>", *[_endpoint_table(analysis, e) for e in analysis.endpoints],
        "<h3>Best overall response</h3>", _response_table(analysis),
        _lines_html(analysis),
        f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "",
        "<h2>Figures</h2>", *figs,
        f"<p class='disclaimer'>{esc(DISCLAIMER)}</p>", "</body></html>",
    ])  # fmt: skip
