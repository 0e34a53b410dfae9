"""Forecasting the alternatives for a case's twins (`gistsim case --forecast`): the same twins in
every alternative, their course up to the decision unchanged, each alternative doing at the
decision what it says, and a strategy that acts before the decision refused."""

import json

import pyarrow.parquet as pq
import pytest
from lifelines import KaplanMeierFitter
from typer.testing import CliRunner

from gistsim.cases.forecast import DEFAULT_ALTERNATIVES
from gistsim.cases.match import DAYS_PER_MONTH
from gistsim.cases.replay import replay_case
from gistsim.cases.schema import load_case
from gistsim.cli import app


#: The founding case with 3 months free of progression after the resection instead of 24, so that a
#: search of 1,000 patients has full matches as well as twins (~1.3% of patients are twins).
SHORT = load_case("sakakura-2006")
SHORT = SHORT.model_copy(update={"observed": SHORT.observed.model_copy(update={"progression_free_after_resection_months": 3})})


@pytest.fixture(scope="module")
def forecast():
    return replay_case(SHORT, max_patients=1000, block_size=500, seed=1, time_budget_s=1e9,
                       alternatives=DEFAULT_ALTERNATIVES)  # fmt: skip


def by_patient(rows):
    out = {}
    for r in rows:
        out.setdefault(r["patient_id"], {})[r["arm"]] = r
    return out


def test_every_twin_once_per_alternative_with_its_course_up_to_the_decision(forecast):
    assert forecast.n_twins >= 3
    rows = by_patient(forecast.forecast_rows)
    assert len(rows) == forecast.n_twins and len(forecast.forecast_rows) == len(DEFAULT_ALTERNATIVES) * forecast.n_twins
    for arms in rows.values():
        assert list(arms) == list(DEFAULT_ALTERNATIVES)
        same = {(a["driver"], a["age_years"], a["n_lesions"], a["time_origin_day"]) for a in arms.values()}
        assert len(same) == 1
        before = {json.dumps([e for e in json.loads(a["events_json"]) if e[0] < 0]) for a in arms.values()}
        assert len(before) == 1  # times are from the decision: the course before it is shared
        assert all(a["randomised"] for a in arms.values())
        assert {a["primary_site"] for a in arms.values()} == {"duodenum"}  # the case's primary (sakakura-2006)


def test_the_case_strategys_twins_are_those_of_the_search(forecast):
    # Each twin is simulated again from its own streams: under the case's strategy its course is the
    # one it had in the search, so exactly the full matches are progression-free 3 months on.
    assert forecast.n_matched >= 2
    resected = [r for r in forecast.forecast_rows if r["arm"] == "resect-continue"]
    free = sum(r["pfs_days"] >= 3 * DAYS_PER_MONTH for r in resected)
    assert free == forecast.n_matched
    months = sorted(r["pfs_days"] / DAYS_PER_MONTH for r in resected if r["pfs_days"] >= 3 * DAYS_PER_MONTH)
    found = sorted(m.months_without_progression_after_resection for m in forecast.matches)
    # Equal where neither the row (censored at the horizon) nor the match (until the horizon) is cut.
    assert months == pytest.approx(found)


def test_each_alternative_does_what_it_says_at_the_decision(forecast):
    for arms in by_patient(forecast.forecast_rows).values():
        at = {name: [(e[1], e[2]) for e in json.loads(r["events_json"]) if e[0] == 0 and e[1] in ("surgery", "line_start")]
              for name, r in arms.items()}  # fmt: skip
        for resect in ("resect-continue", "resect-once"):
            ((kind, detail),) = at[resect]
            assert kind == "surgery" and detail.startswith("hepatectomy ")
        assert at["switch-sunitinib"] == [("line_start", "sunitinib_50mg_4on2off")]
        # The standard sequence's next regimen: 800 mg, or sunitinib for a patient started on 800 mg (exon 9).
        first = min(e for e in json.loads(arms["escalate-800"]["events_json"]) if e[1] == "line_start")[2]
        escalated = "sunitinib_50mg_4on2off" if first == "imatinib_800mg_daily" else "imatinib_800mg_daily"
        assert at["escalate-800"] == [("line_start", escalated)]
        assert at["continue-unchanged"] == []


def test_resecting_once_operates_once(forecast):
    rows = by_patient(forecast.forecast_rows).values()
    assert all(arms["resect-once"]["surgeries"] == 1 for arms in rows)
    assert any(arms["resect-continue"]["surgeries"] > 1 for arms in rows)  # the trial's arm operates again


def test_an_alternative_acting_before_the_decision_is_refused():
    with pytest.raises(ValueError, match=r"alternative 'high-dose' treats the case's twins differently before the decision"):
        replay_case("sakakura-2006", max_patients=500, block_size=500, seed=1, time_budget_s=1e9,
                    alternatives={"resect": "resect-focal-continue", "high-dose": "imatinib-800-era"})  # fmt: skip


def test_cli_forecast_writes_the_twins_report_and_summary(tmp_path):
    res = CliRunner().invoke(app, ["case", "--forecast", "--patients", "1000", "--seed", "1", "--out", str(tmp_path)],
                             env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "case_summary.json").read_text())
    fc = summary["forecast"]
    assert fc["n_twins"] == summary["n_twins_at_decision"] >= 3
    assert f"matched, {fc['n_twins']:,} twins" in res.output  # the progress bar counts what the forecast uses
    assert list(fc["alternatives"]) == list(DEFAULT_ALTERNATIVES)
    assert (tmp_path / "forecast" / "report.html").exists() and (tmp_path / "forecast" / "summary.json").exists()
    df = pq.read_table(tmp_path / "forecast" / "block-00000.parquet").to_pandas()
    assert len(df) == len(DEFAULT_ALTERNATIVES) * fc["n_twins"]
    for name, entry in fc["alternatives"].items():
        mine = df[df.arm == name]
        km = KaplanMeierFitter().fit(mine.pfs_days / DAYS_PER_MONTH, mine.pfs_event)
        assert entry["progression_free_at_observed_months"] == pytest.approx(float(km.predict(24.0)))
        assert entry["strategy"] == DEFAULT_ALTERNATIVES[name]
    text = (tmp_path / "case_summary.md").read_text()
    assert "## Forecast: the alternatives for the case's twins" in text
    assert f"{fc['n_twins']} virtual patients matched the observed course up to the focal progression" in text
    assert not list(tmp_path.rglob("*.tmp"))


def test_cli_refuses_alternatives_without_forecast_and_bad_ones(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["case", "--alternative", "a=standard-sequence", "--out", str(tmp_path / "a")])
    assert res.exit_code == 2 and "--alternative is used with --forecast" in res.output
    res = runner.invoke(app, ["case", "--forecast", "--alternative", "a=nothing", "--out", str(tmp_path / "b")],
                        env={"COLUMNS": "300"})  # fmt: skip
    assert res.exit_code == 2 and "built-in strategies" in " ".join(res.output.split())
    res = runner.invoke(app, ["case", "--forecast", "--alternative", "a=", "--out", str(tmp_path / "c")],
                        env={"COLUMNS": "300"})  # fmt: skip
    assert res.exit_code == 2 and "write NAME=STRATEGY" in res.output
    res = runner.invoke(app, ["case", "--forecast", "--alternative", "a=standard-sequence", "--alternative",
                              "a =focal-continue", "--out", str(tmp_path / "d")], env={"COLUMNS": "300"})  # fmt: skip
    assert res.exit_code == 2 and "the name 'a' is given twice" in res.output
    assert not any(tmp_path.iterdir())
