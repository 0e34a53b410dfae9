"""Sweeping one parameter of a trial: the same patients at every value, one trial folder each."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gistsim.cli import app
from gistsim.trials.report import summary_cell
from gistsim.trials.spec import load_trial
from gistsim.trials.sweep import folder_name, parse_values, prior_values, run_sweep, write_sweep
from gistsim.validation import InputError

PARAMETER = "clinic.surgery.reoperation_probability"
SPEC = {
    "name": "tiny", "population": "liver-recurrence", "patients": 60, "seed": 11, "block_size": 30,
    "horizon_years": 6, "randomise_at": "focal_progression",
    "arms": [{"name": "resect", "strategy": "resect-focal-continue"},
             {"name": "continue", "strategy": "focal-continue"}],
}  # fmt: skip


def rows(folder):
    frames = [pq.read_table(p).to_pandas() for p in sorted(folder.glob("block-*.parquet"))]
    return pd.concat(frames).sort_values(["patient_id", "arm"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    result = run_sweep(load_trial(SPEC), PARAMETER, [0.2, 0.8], out)
    return out, result, write_sweep(result, out)


def test_every_value_treats_the_same_patients(swept):
    out, result, _ = swept
    low, high = (rows(out / folder_name(PARAMETER, v)) for v in (0.2, 0.8))
    # The arm that never operates does not see the parameter: identical rows of its randomised
    # patients at every value (rows of patients not randomised are the first arm's, docs/trials.md).
    assert low.randomised.any() and (low.randomised == high.randomised).all()
    mine = (low.arm == "continue") & low.randomised
    pd.testing.assert_frame_equal(low[mine], high[mine])
    resect = (low.arm == "resect") & low.randomised
    # ...and does reach the arm that operates: more second operations at the higher value.
    assert low[resect].surgeries.sum() < high[resect].surgeries.sum()
    # The same patients and baselines in the arm it does touch; each file records its value.
    assert (low.patient_id == high.patient_id).all() and (low.age_years == high.age_years).all()
    for v in (0.2, 0.8):
        meta = json.loads(pq.read_schema(next((out / folder_name(PARAMETER, v)).glob("block-*.parquet"))).metadata[b"gistsim"])
        assert meta["trial"]["parameters"][PARAMETER] == v


def test_the_sweep_files_hold_each_values_own_analysis(swept):
    out, result, paths = swept
    assert [p.name for p in paths] == ["sweep.json", "sweep.md", "sweep.png"] and all(p.stat().st_size for p in paths)
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["values"] == [0.2, 0.8] and list(doc["arms"]) == ["resect", "continue"]
    for i, v in enumerate(doc["values"]):
        summary = json.loads((out / folder_name(PARAMETER, v) / "summary.json").read_text())
        for arm, cols in doc["arms"].items():
            assert cols["median_os_months"][i] == summary["arms"][arm]["median_os_months"]
            assert cols["hr_os_vs_first"][i] == summary["arms"][arm]["hr_os_vs_first"]
    assert (out / folder_name(PARAMETER, 0.8) / "report.html").exists()
    text = (out / "sweep.md").read_text()
    for arm, cols in doc["arms"].items():
        for i, v in enumerate(doc["values"]):
            assert f"| {v:g} | {cols['n'][i]} | {summary_cell(cols['median_os_months'][i], cols['median_os_ci'][i])} |" in text
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("values", "message"),
    [("0.2,x", "write numbers separated by commas"), ("", "at least one finite number"),
     ("0.2,0.2", "repeats a value"), ("0.2,inf", "at least one finite number")],
)  # fmt: skip
def test_bad_values_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        parse_values(values)


def test_distinct_values_get_distinct_folders():
    values = parse_values("1e-11,1.00000001e-11,0.2")
    assert len({folder_name(PARAMETER, v) for v in values}) == 3
    assert folder_name(PARAMETER, 0.2) == f"{PARAMETER}=0.2"


@pytest.mark.parametrize(
    ("parameter", "values", "message"),
    [(PARAMETER, [0.5, 0.95], r"(?s)reoperation_probability = 0.95 is not valid:.*accepted values are 0.2 to 0.8"),
     ("clinic.surgery.nothing", [0.5], r"(?s)'nothing' is not a field of clinic.surgery; accepted values: .*reoperation_probability")],
)  # fmt: skip
def test_a_bad_parameter_or_value_fails_before_anything_runs(tmp_path, parameter, values, message):
    with pytest.raises(InputError, match=message):
        run_sweep(load_trial(SPEC), parameter, values, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_started_sweep_is_refused_without_resume_before_any_value_runs(tmp_path):
    trial = load_trial(dict(SPEC, patients=10, block_size=10))
    run_sweep(trial, PARAMETER, [0.8], tmp_path)
    with pytest.raises(FileExistsError, match="resume"):
        run_sweep(trial, PARAMETER, [0.2, 0.8], tmp_path)
    assert not (tmp_path / folder_name(PARAMETER, 0.2)).exists()
    done = []
    result = run_sweep(trial, PARAMETER, [0.2, 0.8], tmp_path, resume=True, progress=lambda d, t: done.append((d, t)))
    assert done[-1] == (20, 20) and len(result.summaries) == 2


def test_cli_sweep_writes_its_files_and_refuses_bad_input(tmp_path):
    import yaml

    spec = tmp_path / "t.yaml"
    spec.write_text(yaml.safe_dump(dict(SPEC, patients=10, block_size=10)))
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", str(spec), "--parameter", PARAMETER, "--values", "0.3,0.6", "--out", str(tmp_path / "o")],
                        env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "sweep.png").exists() and (tmp_path / "o" / folder_name(PARAMETER, 0.6) / "summary.json").exists()
    bad = runner.invoke(app, ["sweep", str(spec), "--parameter", PARAMETER, "--values", "0.3,1.5", "--out", str(tmp_path / "b")],
                        env={"COLUMNS": "200"})  # fmt: skip
    assert bad.exit_code == 2 and "accepted values are 0.2 to 0.8" in bad.output and not (tmp_path / "b").exists()
    prior = runner.invoke(app, ["sweep", str(spec), "--parameter", PARAMETER, "--values", "prior", "--out", str(tmp_path / "p")],
                          env={"COLUMNS": "200"})  # fmt: skip
    assert prior.exit_code == 0, prior.output
    assert json.loads((tmp_path / "p" / "sweep.json").read_text())["values"] == prior_values(load_trial(spec), PARAMETER)


def test_prior_values_are_the_priors_ends_and_the_value_in_use():
    from scipy import stats

    from gistsim.model import Model

    trial = load_trial(SPEC)
    model = Model.build()
    uniform = model.parameter(PARAMETER)
    assert prior_values(trial, PARAMETER) == sorted({uniform.prior.low, uniform.value, uniform.prior.high})
    lognormal = model.parameter("clinic.surgery.residual_cells")
    dist = stats.lognorm(s=lognormal.prior.sigma_log, scale=lognormal.prior.median)
    low, mid, high = prior_values(trial, "clinic.surgery.residual_cells")
    assert low == pytest.approx(dist.ppf(0.05), rel=1e-3) and high == pytest.approx(dist.ppf(0.95), rel=1e-3)
    assert mid == lognormal.value
    # A value the trial sets is the one in use.
    assert 0.3 in prior_values(load_trial(dict(SPEC, parameters={PARAMETER: 0.3})), PARAMETER)


@pytest.mark.parametrize("parameter", ["clinic.surgery", "surgery.r0_probability", "clinic"])
def test_prior_values_of_what_is_not_a_parameter_are_refused(parameter):
    with pytest.raises(InputError, match=f"--parameter {parameter}: parameter '{parameter}'"):
        prior_values(load_trial(SPEC), parameter)


def test_summary_cells_show_medians_not_reached_and_values_not_estimable():
    assert summary_cell(12.34, [10.0, 15.0]) == "12.3 (10.0–15.0)"
    assert summary_cell(12.34, [10.0, None]) == "12.3 (10.0–NR)"  # the upper bound not reached
    assert summary_cell(None, [10.0, None]) == "NR"  # a median not reached
    assert summary_cell(None, None) == "—" and summary_cell(None) == "—"  # nothing to estimate
    assert summary_cell(1.234, None, 2) == "1.23"
