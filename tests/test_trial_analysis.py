"""Trial analysis and report on synthetic results folders of the runner's exact form.

Survival is exponential per arm with known rates: progression and death hazards of the reference
arm times the arm's hazard ratio (1, 0.5, 2). PFS = min(progression, death) is then exponential too,
with rate (progression + death hazard) x HR, so both endpoints have proportional hazards with the
same known ratios and medians ln2 / rate. Follow-up (administrative censoring) is uniform.

Statistical checks and their tolerance (seeds fixed, so the tests are deterministic):
- hazard ratios: |log HR_hat - log HR| <= 3 SE, with SE read off the reported 95% CI
  (two-sided alpha = 0.0027 per check, 4 checks);
- medians: the true median lies in the reported Kaplan–Meier 95% CI (alpha = 0.05 per check, 6
  checks) and |log median_hat - log median| <= 3 / sqrt(events) (the delta-method SE of the
  exponential median's log is 1 / sqrt(events)).
"""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gistsim.trials.analysis import BEST_RESPONSES, DAYS_PER_MONTH, TrialAnalysis, analyze
from gistsim.trials.figures import parse_events, plot_best_response, plot_kaplan_meier, plot_swimmer
from gistsim.trials.report import write_report

ARMS = ("continue", "resect", "switch")
HAZARD_RATIOS = (1.0, 0.5, 2.0)
PROGRESSION_PER_DAY = math.log(2) / (15 * DAYS_PER_MONTH)
DEATH_PER_DAY = math.log(2) / (30 * DAYS_PER_MONTH)
FOLLOW_UP_DAYS = (36 * DAYS_PER_MONTH, 120 * DAYS_PER_MONTH)
TRUE_RATE_PER_DAY = {"PFS": PROGRESSION_PER_DAY + DEATH_PER_DAY, "OS": DEATH_PER_DAY}
Z95 = 1.959963984540054
META = {
    "version": "0.1.0",
    "seed": 20240607,
    "trial": {"name": "synthetic-focal-progression", "arms": list(ARMS), "n_patients": 600},
    "analysis": {"population": "randomised", "endpoints": {"PFS": ["pfs_days", "pfs_event"], "OS": ["os_days", "os_event"]},
                 "rmst_horizon_days": 36 * DAYS_PER_MONTH},
}  # fmt: skip
SCHEMA = pa.schema([("patient_id", pa.int64()), ("arm", pa.string()), ("randomised", pa.bool_()),
                    ("driver", pa.string()), ("age_years", pa.float64()), ("best_response", pa.string()),
                    ("pfs_days", pa.float64()), ("pfs_event", pa.bool_()), ("os_days", pa.float64()),
                    ("os_event", pa.bool_()), ("surgeries", pa.int32()), ("lines_received", pa.int32()),
                    ("events_json", pa.string())])  # fmt: skip


def synthetic_rows(n: int, *, seed: int, first_id: int = 0, randomised: bool = True, time_scale: float = 1.0,
                   shared_draws: bool = False) -> pd.DataFrame:  # fmt: skip
    """One row per patient per arm; ``shared_draws`` reuses each patient's uniforms in every arm."""
    rng = np.random.default_rng(seed)
    ids = np.arange(first_id, first_id + n)
    driver = rng.choice(["KIT_exon11", "KIT_exon9", "PDGFRA_D842V"], size=n, p=[0.7, 0.2, 0.1])
    age = rng.normal(62, 11, size=n)
    follow_up = rng.uniform(*FOLLOW_UP_DAYS, size=n)
    prior_days = rng.uniform(100, 900, size=n)
    shared = rng.random((2, n))
    frames = []
    for k, (arm, hr) in enumerate(zip(ARMS, HAZARD_RATIOS)):
        u = shared if shared_draws else rng.random((2, n))
        progression = -np.log(u[0]) / (PROGRESSION_PER_DAY * hr) * time_scale
        death = -np.log(u[1]) / (DEATH_PER_DAY * hr) * time_scale
        pfs = np.minimum(progression, death)
        best = rng.choice(BEST_RESPONSES, size=n, p=[[0.02, 0.3, 0.4, 0.25, 0.03], [0.1, 0.5, 0.3, 0.08, 0.02],
                                                     [0.0, 0.1, 0.4, 0.45, 0.05]][k])  # fmt: skip
        events, surgeries, lines = [], np.zeros(n, np.int32), np.ones(n, np.int32)
        for i in range(n):
            ev = [[-prior_days[i], "line_start", "imatinib_400mg_daily"], [0.0, "focal_progression", "lesion 2"]]
            if arm == "resect":
                ev.append([14.0, "surgery", "resection"])
                surgeries[i] = 1
            if arm == "switch":
                ev.append([0.0, "line_start", "sunitinib_50mg_4on2off"])
                lines[i] = 2
            if pfs[i] <= follow_up[i] and progression[i] < death[i]:
                ev += [[pfs[i], "progression", "systemic"], [pfs[i] + 7, "line_start", "regorafenib_160mg_3on1off"]]
                lines[i] += 1
            if death[i] <= follow_up[i]:
                ev.append([death[i], "death", ""])
            events.append(json.dumps(ev))
        frames.append(pd.DataFrame({
            "patient_id": ids, "arm": arm, "randomised": randomised, "driver": driver, "age_years": age,
            "best_response": best, "pfs_days": np.minimum(pfs, follow_up), "pfs_event": pfs <= follow_up,
            "os_days": np.minimum(death, follow_up), "os_event": death <= follow_up, "surgeries": surgeries,
            "lines_received": lines, "events_json": events,
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def write_results(folder, rows: pd.DataFrame, meta: dict | None = None, *, n_blocks: int = 3, drop=()):
    """Write ``rows`` as the runner does: blocks of patients, metadata in each file's schema."""
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([f for f in SCHEMA if f.name not in drop]).with_metadata(
        {b"gistsim": json.dumps(META if meta is None else meta).encode()})  # fmt: skip
    blocks = np.array_split(np.unique(rows["patient_id"]), n_blocks)
    for b, ids in enumerate(blocks):
        part = rows[rows["patient_id"].isin(ids)].drop(columns=list(drop))
        pq.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False), folder / f"block-{b:05d}.parquet")
    (folder / f"block-{n_blocks:05d}.parquet.tmp").write_bytes(b"a block still being written")
    return folder


@pytest.fixture(scope="module")
def base_rows() -> pd.DataFrame:
    return synthetic_rows(600, seed=11)


@pytest.fixture(scope="module")
def base(tmp_path_factory, base_rows) -> TrialAnalysis:
    return analyze(write_results(tmp_path_factory.mktemp("base"), base_rows))


def _meta(**analysis) -> dict:
    return {**META, "analysis": {**META["analysis"], **analysis}}


# --- parameter recovery ---------------------------------------------------------------------------


def test_hazard_ratios_are_recovered_within_three_standard_errors(base):
    for endpoint in ("PFS", "OS"):
        rows = base.summary[base.summary["endpoint"] == endpoint].set_index("arm")
        assert np.isnan(rows.loc[ARMS[0], "hr_vs_first"])
        for arm, true_hr in zip(ARMS[1:], HAZARD_RATIOS[1:]):
            r = rows.loc[arm]
            se = (math.log(r["hr_ci_upper"]) - math.log(r["hr_ci_lower"])) / (2 * Z95)
            assert abs(math.log(r["hr_vs_first"]) - math.log(true_hr)) <= 3 * se, (endpoint, arm, r["hr_vs_first"])
            assert r["logrank_p"] < 1e-6  # HR 0.5 or 2 with ~300+ events per arm is unmistakable


def test_medians_are_recovered_within_the_kaplan_meier_ci(base):
    for endpoint, rate in TRUE_RATE_PER_DAY.items():
        for arm, hr in zip(ARMS, HAZARD_RATIOS):
            r = base.summary.set_index(["arm", "endpoint"]).loc[(arm, endpoint)]
            true_months = math.log(2) / (rate * hr) / DAYS_PER_MONTH
            assert r["median_ci_lower_months"] <= true_months <= r["median_ci_upper_months"], (endpoint, arm)
            assert abs(math.log(r["median_months"] / true_months)) <= 3 / math.sqrt(r["events"])


def test_rmst_matches_the_exponential_closed_form(base):
    # RMST of an exponential up to tau is (1 - exp(-rate tau)) / rate, all patients followed >= 36 months
    tau = base.rmst_horizon_days
    for endpoint, rate in TRUE_RATE_PER_DAY.items():
        for arm, hr in zip(ARMS, HAZARD_RATIOS):
            lam = rate * hr
            expected = (1 - math.exp(-lam * tau)) / lam / DAYS_PER_MONTH
            got = base.summary.set_index(["arm", "endpoint"]).loc[(arm, endpoint), "rmst_months"]
            assert got == pytest.approx(expected, rel=0.1), (endpoint, arm)


def test_cluster_robust_variance_uses_the_pairing_of_shared_patients(tmp_path):
    folder = write_results(tmp_path / "crn", synthetic_rows(300, seed=5, shared_draws=True))
    naive, robust = analyze(folder), analyze(folder, cluster_by_patient=True)
    for a, b in zip(naive.summary.itertuples(), robust.summary.itertuples()):
        if a.arm == ARMS[0]:
            continue
        assert b.hr_vs_first == pytest.approx(a.hr_vs_first)
        assert b.hr_ci_upper / b.hr_ci_lower < a.hr_ci_upper / a.hr_ci_lower  # same patients: narrower
    assert robust.to_dict()["cox_model"].endswith("cluster-robust by patient")


# --- summary and JSON -----------------------------------------------------------------------------


def test_summary_has_one_row_per_arm_and_endpoint_in_the_trials_order(base):
    assert list(zip(base.summary["arm"], base.summary["endpoint"])) == [(a, e) for a in ARMS for e in ("PFS", "OS")]
    assert (base.summary["n"] == 600).all()
    assert base.best_response.index.tolist() == list(ARMS)
    assert base.best_response.columns.tolist() == list(BEST_RESPONSES)
    assert (base.best_response.sum(axis=1) == 600).all()


def test_json_has_every_key_with_the_right_types(base):
    doc = json.loads(base.to_json())
    assert doc["trial"] == META["trial"]["name"] and doc["seed"] == META["seed"] and doc["version"] == "0.1.0"
    assert doc["population"] == "randomised" and doc["n_patients"] == 600
    assert list(doc["arms"]) == list(ARMS) and doc["missing_blocks"] == []
    for arm, entry in doc["arms"].items():
        assert isinstance(entry["n"], int)
        for key in ("pfs", "os"):
            assert isinstance(entry[f"median_{key}_months"], float)
            ci = entry[f"median_{key}_ci"]
            assert isinstance(ci, list) and len(ci) == 2 and all(isinstance(x, float) for x in ci)
            assert isinstance(entry[f"rmst_{key}_months"], float)
            if arm == ARMS[0]:
                assert entry[f"hr_{key}_vs_first"] is None and entry[f"hr_{key}_ci"] is None
                assert entry[f"logrank_p_{key}"] is None
            else:
                assert isinstance(entry[f"hr_{key}_vs_first"], float)
                assert [type(x) for x in entry[f"hr_{key}_ci"]] == [float, float]
                assert isinstance(entry[f"logrank_p_{key}"], float)
        assert list(entry["best_response"]) == list(BEST_RESPONSES)
        assert all(isinstance(v, int) for v in entry["best_response"].values())


def test_medians_not_reached_and_arms_without_events_give_nulls_and_notes(tmp_path, base_rows):
    rows = base_rows.copy()
    quiet = rows["arm"] == "resect"
    rows.loc[quiet, ["pfs_event", "os_event"]] = False
    a = analyze(write_results(tmp_path / "r", rows))
    entry = a.to_dict()["arms"]["resect"]
    assert entry["median_os_months"] is None and entry["median_pfs_months"] is None
    assert entry["hr_os_vs_first"] is None and entry["hr_os_ci"] is None
    assert isinstance(entry["logrank_p_os"], float)  # the reference arm has events: the test still exists
    assert any("median not reached in arm 'resect'" in n for n in a.notes)
    assert any("no events in arm 'resect'" in n for n in a.notes)
    json.loads(a.to_json())  # strict JSON, no NaN


# --- population filter ----------------------------------------------------------------------------


def test_non_randomised_rows_do_not_move_the_result(tmp_path, base, base_rows):
    outsiders = synthetic_rows(300, seed=99, first_id=10_000, randomised=False, time_scale=0.01)
    folder = write_results(tmp_path / "mixed", pd.concat([base_rows, outsiders], ignore_index=True))
    filtered = analyze(folder)
    pd.testing.assert_frame_equal(filtered.summary, base.summary)
    pd.testing.assert_frame_equal(filtered.best_response, base.best_response)
    assert filtered.n_patients == 600
    # the same folder analysed on everyone is visibly different
    for p in folder.glob("block-*.parquet"):
        table = pq.read_table(p)
        table = table.replace_schema_metadata({b"gistsim": json.dumps(_meta(population="all")).encode()})
        pq.write_table(table, p)
    everyone = analyze(folder)
    assert everyone.n_patients == 900 and everyone.population == "all"
    assert (everyone.summary["median_months"] < 0.8 * base.summary["median_months"]).all()


def test_an_arm_with_no_randomised_rows_is_named(tmp_path, base_rows):
    rows = base_rows.copy()
    rows.loc[rows["arm"] == "switch", "randomised"] = False
    with pytest.raises(ValueError, match="arm 'switch' has no rows with randomised = true"):
        analyze(write_results(tmp_path / "r", rows))


# --- errors ---------------------------------------------------------------------------------------


def test_a_missing_column_is_named(tmp_path, base_rows):
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['os_event'\]"):
        analyze(write_results(tmp_path / "r", base_rows, drop=("os_event",)))


@pytest.mark.parametrize(
    ("meta", "message"),
    [({k: v for k, v in META.items() if k != "analysis"}, r"lacks key\(s\) \['analysis'\]"),
     (_meta(population="everyone"), "metadata.analysis.population = 'everyone' is not known"),
     (_meta(rmst_horizon_days=-1), "rmst_horizon_days = -1 .* > 0"),
     ({**META, "trial": {**META["trial"], "arms": ["continue", "resect"]}}, "arm = 'switch' .* accepted")],
)  # fmt: skip
def test_bad_metadata_is_named(tmp_path, base_rows, meta, message):
    with pytest.raises(ValueError, match=message):
        analyze(write_results(tmp_path / "r", base_rows[base_rows["patient_id"] < 20], meta, n_blocks=1))


def test_bad_values_are_named(tmp_path, base_rows):
    rows = base_rows.head(30).copy()
    rows.loc[3, "best_response"] = "MR"
    with pytest.raises(ValueError, match="best_response = 'MR'.*accepted values"):
        analyze(write_results(tmp_path / "a", rows, n_blocks=1))
    rows = base_rows.copy()
    rows.loc[5, "os_days"] = np.nan
    with pytest.raises(ValueError, match="os_days = nan .*finite days >= 0"):
        analyze(write_results(tmp_path / "b", rows))


def test_no_block_files_is_a_clear_error(tmp_path):
    (tmp_path / "block-00000.parquet.tmp").write_text("x")
    with pytest.raises(FileNotFoundError, match="no block-\\*.parquet files"):
        analyze(tmp_path)


# --- figures and report ---------------------------------------------------------------------------


def test_plots_return_axes(base):
    from matplotlib.axes import Axes

    assert isinstance(plot_kaplan_meier(base, "PFS"), Axes)
    assert isinstance(plot_best_response(base), Axes)
    ax = plot_swimmer(base, n_patients=5)
    assert isinstance(ax, Axes) and len(ax.get_yticks()) == 5 * len(ARMS)
    with pytest.raises(ValueError, match="endpoint = 'TTP' is not known"):
        plot_kaplan_meier(base, "TTP")


def test_events_parse_and_malformed_events_are_named():
    assert parse_events('[[5, "death", ""], [-3.5, "line_start", "imatinib_400mg_daily"]]') == [
        (-3.5, "line_start", "imatinib_400mg_daily"), (5.0, "death", "")]  # fmt: skip
    with pytest.raises(ValueError, match="events_json of patient 7 = '\\[\\[1\\]\\]'"):
        parse_events("[[1]]", where="events_json of patient 7")


def test_report_is_self_contained_and_written_atomically(tmp_path, base):
    out = tmp_path / "report"
    paths = write_report(base, out, swimmer_patients=10)
    assert [p.name for p in paths] == ["report.html", "summary.json"]
    page = (out / "report.html").read_text()
    images = page.split("data:image/png;base64,")[1:]
    assert len(images) == 4  # KM PFS, KM OS, best response, swimmer
    assert all(base64.b64decode(img.split('"', 1)[0])[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "Research use only" in page and "<h2>Methods</h2>" in page and "<table>" in page
    assert "src=\"http" not in page and "<script" not in page
    assert "Lines of therapy" not in page and not base.lines  # these rows have no line columns
    assert json.loads((out / "summary.json").read_text()) == base.to_dict()
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json"]  # no temp files left
    parquet = next(base.results_dir.glob("block-*.parquet"))
    for p in paths:  # as readable as the results beside them (mkstemp alone makes them private)
        assert p.stat().st_mode & 0o777 == parquet.stat().st_mode & 0o777


def test_cli_analyze_prints_the_table_and_writes_the_report(tmp_path, base_rows):
    from typer.testing import CliRunner

    from gistsim.cli import app

    write_results(tmp_path, base_rows)
    res = CliRunner().invoke(app, ["analyze", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "HR vs first" in res.output and "log-rank p" in res.output
    assert (tmp_path / "report.html").exists() and (tmp_path / "summary.json").exists()
    bad = CliRunner().invoke(app, ["analyze", str(tmp_path / "nothing")])
    assert bad.exit_code == 2


def test_an_unfinished_run_is_analysed_with_its_missing_blocks_named(tmp_path, base_rows):
    from typer.testing import CliRunner

    from gistsim.cli import app

    meta = {**META, "trial": {**META["trial"], "patients": 600, "block_size": 200}}
    write_results(tmp_path, base_rows, meta)
    assert analyze(tmp_path).missing_blocks == []
    (tmp_path / "block-00001.parquet").unlink()
    partial = analyze(tmp_path)
    assert partial.missing_blocks == [1] and partial.n_patients == 400
    assert partial.notes[0].startswith("Unfinished run: 1 of 3 blocks have no results file (blocks 1)")
    assert "--resume" in partial.notes[0]
    assert json.loads(partial.to_json())["missing_blocks"] == [1]
    res = CliRunner().invoke(app, ["analyze", str(tmp_path)], env={"COLUMNS": "300"})
    assert res.exit_code == 0 and "Unfinished run: 1 of 3 blocks" in res.output, res.output


def test_cli_analyze_table_is_whole_in_a_log_of_80_columns(tmp_path, base_rows):
    # Output that is not a terminal (make demo piped, CI logs) gets the table at its natural width,
    # not squeezed to 80 columns with whole columns cut to "…".
    from typer.testing import CliRunner

    from gistsim.cli import app

    write_results(tmp_path, base_rows)
    res = CliRunner().invoke(app, ["analyze", str(tmp_path)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "…" not in res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    for name, arm in summary["arms"].items():
        assert name in res.output
        assert f"{arm['n']}" in res.output
        assert f"{arm['rmst_os_months']:.1f}" in res.output
