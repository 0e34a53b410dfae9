"""Running trials: same patients in every arm, identical results for any number of workers, resume."""

import json
import os
import re
from importlib.resources import files

import pandas as pd
import pyarrow.parquet as pq
import pytest

from gistsim.trials.runner import block_path, run_block, run_trial
from gistsim.trials.spec import load_trial
from gistsim.validation import InputError

SPEC = {
    "name": "tiny", "population": "liver-recurrence", "patients": 40, "seed": 11, "block_size": 20,
    "horizon_years": 4, "randomise_at": "focal_progression",
    "arms": [{"name": "resect", "strategy": "resect-focal-continue"},
             {"name": "switch", "strategy": "focal-switch-sunitinib"},
             {"name": "continue", "strategy": "focal-continue"}],
}  # fmt: skip


def read(folder):
    frames = [pq.read_table(p).to_pandas() for p in sorted(folder.glob("block-*.parquet"))]
    return pd.concat(frames).sort_values(["patient_id", "arm"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    run_trial(load_trial(SPEC), out)
    return out


def test_every_patient_once_per_arm_with_metadata(serial):
    df = read(serial)
    assert len(df) == 40 * 3
    assert (df.groupby("patient_id").arm.nunique() == 3).all()
    meta = json.loads(pq.read_schema(block_path(serial, 0)).metadata[b"gistsim"])
    assert meta["seed"] == 11 and meta["trial"]["arms"] == ["resect", "switch", "continue"]
    assert meta["analysis"]["population"] == "randomised"
    assert "evolution" in meta["parameters"] and meta["version"]


def test_arms_share_patients(serial):
    df = read(serial)
    base = df.groupby("patient_id")[["driver", "age_years", "n_lesions", "randomised", "time_origin_day"]].nunique()
    assert (base == 1).all().all()
    # Patients never randomised had the same course in every arm.
    quiet = df[~df.randomised].drop(columns="arm")
    assert (quiet.groupby("patient_id").nunique(dropna=False) == 1).all().all()
    # Randomised patients: PFS from randomisation differs between arms for some.
    rand = df[df.randomised]
    assert rand.patient_id.nunique() >= 3
    assert (rand.groupby("patient_id").pfs_days.nunique() > 1).any()


def test_two_workers_give_identical_results(serial, tmp_path):
    run_trial(load_trial(SPEC), tmp_path, workers=2)
    pd.testing.assert_frame_equal(read(serial), read(tmp_path))


def test_a_patients_row_does_not_depend_on_its_block(serial, tmp_path):
    # Event details included: they name lesions by organ and number within the patient, so the
    # rows (not only the times) are the same whichever patients share the block.
    run_trial(load_trial(dict(SPEC, block_size=40)), tmp_path)
    one_block = read(tmp_path)
    pd.testing.assert_frame_equal(read(serial), one_block)
    details = [e[2] for text in one_block.events_json for e in json.loads(text) if e[1] == "focal_progression"]
    late = one_block[one_block.patient_id >= 20].events_json.str.contains("hepatectomy")
    assert details and all(d.startswith("liver ") for d in details) and late.any()


def test_resume_after_a_killed_run_completes_each_patient_once(serial, tmp_path):
    trial = load_trial(SPEC)
    calls = []
    run_trial(trial, tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(20, 40), (40, 40)]  # patients done of patients to do, after each block
    os.remove(block_path(tmp_path, 1))  # as if killed before block 1 was renamed into place
    (tmp_path / "block-00001.parquet.tmp").write_bytes(b"half-written")
    with pytest.raises(FileExistsError, match="resume"):
        run_trial(trial, tmp_path)
    calls.clear()
    summary = run_trial(trial, tmp_path, resume=True, progress=lambda done, total: calls.append((done, total)))
    assert (summary.blocks_written, summary.blocks_skipped) == (1, 1)
    assert calls == [(20, 20)]  # the skipped block counts in neither
    pd.testing.assert_frame_equal(read(serial), read(tmp_path))


def test_resume_refuses_blocks_of_another_run(tmp_path):
    trial = load_trial(SPEC)
    run_trial(trial, tmp_path)
    os.remove(block_path(tmp_path, 1))
    other = trial.model_validate({**trial.model_dump(), "parameters": {"potency.emax_per_day": 0.05}})
    with pytest.raises(FileExistsError, match=r"different run \(parameters\.overrides\.potency\.emax_per_day, .*differ\)"):
        run_trial(other, tmp_path, resume=True)
    assert not block_path(tmp_path, 1).exists()  # nothing written
    reseeded = trial.model_validate({**trial.model_dump(), "seed": trial.seed + 1})
    with pytest.raises(FileExistsError, match=r"different run \(seed, trial\.seed differ\)"):
        run_trial(reseeded, tmp_path, resume=True)
    assert run_trial(trial, tmp_path, resume=True).blocks_written == 1  # the same run finishes


def test_an_arm_does_not_change_another_arm():
    a = run_block(load_trial(SPEC).model_dump_json(), 0)
    other = dict(SPEC, arms=[SPEC["arms"][0], {"name": "escalate", "strategy": "standard-sequence"}])
    b = run_block(load_trial(other).model_dump_json(), 0)
    first = [r for r in a if r["arm"] == "resect"]
    assert first == [r for r in b if r["arm"] == "resect"]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"population": "nowhere"}, "built-in populations: advanced-first-line, liver-recurrence"),
        ({"arms": [{"name": "x", "strategy": "standard-sequence"}] * 2}, "arm names must be unique"),
        ({"randomise_at": "surgery"}, r"randomise_at: Input should be 'start', 'focal_progression' or 'landmark'"),
        ({"arms": [{"name": "x", "strategy": "nothing"}]}, "built-in strategies"),
        ({"patients": 0}, "patients: Input should be greater than 0"),
        ({"seed": -1}, r"seed: Input should be greater than or equal to 0 \(got -1\)"),  # numpy seeds are >= 0
        ({"parameters": {"clinic.surgery.reoperation_probability": 1.0}},
         r"'clinic.surgery.reoperation_probability' = 1.0 is not accepted: its prior is uniform, accepted values are 0.2 to 0.8$"),
        # At focal progression the first arm decides who is randomised, and the others take its history.
        ({"arms": [{"name": "escalate", "strategy": "standard-sequence"}, SPEC["arms"][0]]},
         r"needs the first arm's strategy to define focal_progression.*'escalate' has strategy 'standard-sequence'"),
        ({"arms": [SPEC["arms"][0], {"name": "residual", "strategy": "resect-residual"}]},
         (r"arm 'residual' \(strategy 'resect-residual'\) treats patients differently .* before their first "
          r"progression, in residual_resection: \{'max_lesions': 3")),
        ({"arms": [SPEC["arms"][0], {"name": "stop", "strategy": "bfr14-stop-1y"}]},
         (r"first regimen for KIT_exon9 \(start, start_by_driver\): imatinib_400mg_daily against imatinib_800mg_daily;"
          r".*stop: \{'after_years': 1.0")),
    ],
)
def test_bad_trial_specs(change, message):
    with pytest.raises((InputError, ValueError), match=message):
        load_trial(dict(SPEC, **change))


def test_arms_may_differ_before_focal_progression_only_for_drivers_nobody_has(tmp_path):
    import yaml

    population = yaml.safe_load((files("gistsim") / "data/populations/liver-recurrence.yaml").read_text())
    strategy = yaml.safe_load((files("gistsim") / "data/strategies/focal-continue.yaml").read_text())
    strategy["start_by_driver"] = {"PDGFRA_D842V": "avapritinib_300mg_daily"}  # KIT exon 9 on 400 mg
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(strategy))
    arms = [SPEC["arms"][0], {"name": "other", "strategy": str(tmp_path / "s.yaml")}]
    with pytest.raises(InputError, match=r"first regimen for KIT_exon9 \(start, start_by_driver\): imatinib_400mg"):
        load_trial(dict(SPEC, arms=arms))
    population["driver_probabilities"] = {"KIT_exon11": 0.9, "KIT_exon9": 0.0, "wild_type": 0.1}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(population))
    assert len(load_trial(dict(SPEC, arms=arms, population=str(tmp_path / "p.yaml"))).arms) == 2


def test_cli_trial_runs_analyzes_and_refuses_to_overwrite(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from gistsim.cli import app

    spec = tmp_path / "t.yaml"
    spec.write_text(yaml.safe_dump(dict(SPEC, patients=30, block_size=15)))
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(app, ["trial", str(spec), "--out", str(out), "--n", "30"], env={"COLUMNS": "40"})
    assert res.exit_code == 0, res.output
    # A narrow log (40 columns) gets the progress line and the table whole (nothing cut to "…").
    assert re.search(r"30/30 patients +[\d.]+ patients/s +\d:\d\d:\d\d", res.output), res.output
    assert "…" not in res.output
    assert (out / "report.html").exists() and json.loads((out / "summary.json").read_text())["n_patients"] > 0
    # Randomised at focal progression: every arm's first line (imatinib) began before the origin.
    page = (out / "report.html").read_text()
    assert page.count("<td>imatinib_400mg_daily</td>") >= 3 and "<h4>switch</h4>" in page
    again = runner.invoke(app, ["trial", str(spec), "--out", str(out)])
    assert again.exit_code == 2 and "resume" in again.output
    resumed = runner.invoke(app, ["trial", str(spec), "--out", str(out), "--resume", "--no-analyze"])
    assert resumed.exit_code == 0 and "0 blocks written, 2 already there" in resumed.output


def test_per_line_pfs_and_ttp_columns(serial):
    from gistsim.trials.runner import _per_line

    # Line 1 from day 0: progression at 300 starts line 2; line 2 ends at death (500, no progression).
    ev = [(0.0, "line_start", "imatinib_400mg_daily"), (300.0, "progression", "imatinib_400mg_daily"),
          (300.0, "line_start", "imatinib_800mg_daily"), (500.0, "death", "")]  # fmt: skip
    import numpy as np

    # Readings: PR at day 84 and PD at 300 on line 1; SD at 384 on line 2.
    row = _per_line(ev, 500.0, 500.0, np.array([1, 3, 2]), np.array([84.0, 300.0, 384.0]))
    assert (row["line1_best_response"], row["line2_best_response"]) == ("PR", "SD")
    assert (row["line1_pfs_days"], row["line1_pfs_event"], row["line1_ttp_event"]) == (300.0, True, True)
    assert row["line2_regimen"] == "imatinib_800mg_daily"
    assert (row["line2_pfs_days"], row["line2_pfs_event"]) == (200.0, True)  # death ends PFS
    assert (row["line2_ttp_days"], row["line2_ttp_event"]) == (200.0, False)  # death censors TTP
    assert row["line3_regimen"] is None
    df = read(serial)
    assert {"line1_pfs_days", "line1_ttp_event", "line5_regimen"} <= set(df.columns)
    assert (df.line1_regimen.notna()).all()


def test_cli_set_overrides_a_parameter_and_records_it(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from gistsim.cli import app

    spec = tmp_path / "t.yaml"
    spec.write_text(yaml.safe_dump(dict(SPEC, patients=6, block_size=6, horizon_years=1)))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["trial", str(spec), "--out", str(out), "--no-analyze",
                                   "--set", "evolution.kinetics_iiv_sigma_log=0.3", "--set", "potency.emax_per_day=0.05"],
                             env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    meta = json.loads(pq.read_schema(block_path(out, 0)).metadata[b"gistsim"])
    assert meta["trial"]["parameters"] == {"evolution.kinetics_iiv_sigma_log": 0.3, "potency.emax_per_day": 0.05}
    assert meta["parameters"]["evolution"]["kinetics_iiv_sigma_log"] == 0.3


@pytest.mark.parametrize(
    ("item", "message"),
    [("evolution.kinetics_iiv_sigma_log", "write PATH=VALUE"),
     ("evolution.kinetics_iiv_sigma_log=fast", "'fast' is not a number"),
     ("evolution.kinetics_iiv_sigma_log=nan", "must be finite"),
     ("evolution.no_such_rate=1", "accepted values")],
)  # fmt: skip
def test_cli_set_refuses_bad_overrides_before_running(tmp_path, item, message):
    from typer.testing import CliRunner

    from gistsim.cli import app

    for command in (["trial", "--n", "4"], ["validate", "--scale", "0.01"]):
        out = tmp_path / command[0]
        res = CliRunner().invoke(app, [*command, "--out", str(out), "--set", item], env={"COLUMNS": "300"})
        assert res.exit_code == 2, res.output
        assert message in " ".join(res.output.split()), res.output
        assert not out.exists() or not any(out.rglob("*.parquet"))  # nothing ran


def test_local_cluster_workers_keep_freed_memory_and_one_blas_thread(monkeypatch):
    """The workers' environment drops Dask's MALLOC_TRIM_THRESHOLD_ (a block ran 15-18% slower
    with it) and keeps its single-thread settings; the setting does not leak past the call."""
    import dask
    import dask.distributed

    from gistsim.trials import runner

    seen = {}

    def fake_cluster(**kwargs):
        seen.update(dask.config.get("distributed.nanny.pre-spawn-environ"))
        return "cluster"

    monkeypatch.setattr(dask.distributed, "LocalCluster", fake_cluster)
    assert runner.local_cluster(2) == "cluster"
    assert "MALLOC_TRIM_THRESHOLD_" not in seen
    assert str(seen.get("OMP_NUM_THREADS")) == "1"
    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get("distributed.nanny.pre-spawn-environ")


def test_local_cluster_does_not_need_port_8787():
    """Another cluster on the machine holds Dask's default HTTP port: no warning, another port."""
    import socket
    import warnings

    from gistsim.trials import runner

    with socket.socket() as held:
        try:
            held.bind(("", 8787))
            held.listen()
        except OSError:
            pass  # already taken by someone else: the condition under test holds anyway
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cluster = runner.local_cluster(1)
            try:
                assert cluster.scheduler.http_server.port != 8787
            finally:
                cluster.close()
    assert not [w for w in caught if "8787" in str(w.message)]


def test_lines_of_therapy_read_a_bounded_number_of_rows(tmp_path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from gistsim.cli import app
    from gistsim.trials import analysis

    spec = tmp_path / "t.yaml"
    spec.write_text(yaml.safe_dump(dict(SPEC, patients=40, block_size=10)))
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["trial", str(spec), "--out", str(out)]).exit_code == 0
    whole = analysis.analyze(out)
    monkeypatch.setattr(analysis, "LINES_MAX_ROWS", 1)  # one block (10 patients x 3 arms) is read
    part = analysis.analyze(out)
    assert whole.lines_patients == whole.n_patients > part.lines_patients > 0
    assert part.lines["resect"]["n"].sum() < whole.lines["resect"]["n"].sum()
    assert f"Over the first {part.lines_patients:,} patients" in _report(part, tmp_path / "r")


def _report(a, where):
    from gistsim.trials.report import write_report

    write_report(a, where, swimmer_patients=2)
    return (where / "report.html").read_text()


@pytest.mark.parametrize("command", [["trial", "--n", "4"], ["case", "sakakura-2006"], ["demo"]])
def test_cli_refuses_a_negative_seed_before_running(tmp_path, command):
    from typer.testing import CliRunner

    from gistsim.cli import app

    out = tmp_path / command[0]
    res = CliRunner().invoke(app, [*command, "--seed", "-1", "--out", str(out)], env={"COLUMNS": "300"})
    assert res.exit_code == 2, res.output
    assert "Invalid value for '--seed'" in res.output and "greater than or equal to 0" in res.output
    assert not out.exists()


@pytest.mark.parametrize(("address", "reason"), [("not an address", "missing port"), ("tcp://127.0.0.1:1", "Timed out")])
@pytest.mark.parametrize("command", [["trial", "--n", "4"], ["sweep", "--parameter", "clinic.surgery.reoperation_probability",
                                                            "--values", "0.5", "--n", "4"]])  # fmt: skip
def test_cli_names_an_unreachable_scheduler_and_writes_nothing(tmp_path, address, reason, command):
    import dask
    import dask.distributed  # its defaults join dask.config before config.set below saves it
    from typer.testing import CliRunner

    from gistsim.cli import app

    out = tmp_path / command[0]
    # Nothing listens on port 1; a short connect timeout instead of Dask's 30 s.
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        res = CliRunner().invoke(app, [*command, "--scheduler", address, "--out", str(out)], env={"COLUMNS": "300"})
    assert res.exit_code == 2, res.output
    assert f"scheduler = '{address}': no Dask scheduler answered there" in res.output and reason in res.output
    assert "Traceback" not in res.output
    assert not out.exists() or not any(out.rglob("*.parquet"))
