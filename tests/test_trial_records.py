"""A trial's optional per-visit and per-lesion records, checked against its rows."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gistsim.trials import runner
from gistsim.trials.records import records_path
from gistsim.trials.runner import block_path, run_trial
from gistsim.trials.spec import load_trial
from gistsim.validation import InputError

SPEC = {
    "name": "tiny-records", "population": "liver-recurrence", "patients": 40, "seed": 11, "block_size": 20,
    "horizon_years": 4, "randomise_at": "focal_progression", "records": ["visits", "lesions"],
    "arms": [{"name": "resect", "strategy": "resect-focal-continue"},
             {"name": "switch", "strategy": "focal-switch-sunitinib"}],
}  # fmt: skip
VISIT_DAYS, HORIZON_DAYS = 84.0, 4 * 365.25


def read(folder, kind):
    frames = [pq.read_table(p).to_pandas() for p in sorted(folder.glob(f"{kind}-*.parquet"))]
    keys = ["patient_id", "arm"] + (["day"] if kind != "block" else [])
    return pd.concat(frames).sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    run_trial(load_trial(SPEC), out)
    return out, read(out, "block"), read(out, "visits"), read(out, "lesions")


def test_every_row_has_its_visits_on_the_schedule_until_death(run):
    out, rows, visits, _ = run
    meta = json.loads(pq.read_schema(records_path(out, "visits", 0)).metadata[b"gistsim"])
    assert meta["trial"]["records"] == ["visits", "lesions"]
    by_row = visits.groupby(["patient_id", "arm"])
    assert len(by_row) == len(rows) == 40 * 2
    for r in rows.itertuples():
        days = by_row.get_group((r.patient_id, r.arm)).day.to_numpy() + r.time_origin_day  # days on treatment
        death = r.os_days + r.time_origin_day if r.os_event else np.inf
        expected = np.arange(0.0, min(death, HORIZON_DAYS) + 1e-6, VISIT_DAYS)
        if death > HORIZON_DAYS:  # alive at the horizon: a last visit there
            expected = np.append(expected, HORIZON_DAYS)
        np.testing.assert_allclose(days, expected, atol=1e-6)


def test_the_first_pd_reading_after_the_origin_is_the_rows_progression(run):
    _, rows, visits, _ = run
    pd_days = visits[(visits.recist == "PD") & (visits.day > 1e-9)].groupby(["patient_id", "arm"]).day.min()
    checked = 0
    for r in rows.itertuples():
        first = pd_days.get((r.patient_id, r.arm), np.inf)
        assert r.pfs_days == pytest.approx(min(first, r.os_days)), (r.patient_id, r.arm)
        checked += np.isfinite(first)
    assert checked >= 10  # progressions were compared, not only deaths


def test_baseline_lesions_are_the_rows_lesions_and_all_seen(run):
    _, rows, _, lesions = run
    baseline = lesions[np.isclose(lesions.day, -lesions.merge(rows, on=["patient_id", "arm"]).time_origin_day)]
    counts = baseline.groupby(["patient_id", "arm"]).size()
    for r in rows.itertuples():  # liver-recurrence lesions are 10-60 mm: every one is seen at baseline
        assert counts.get((r.patient_id, r.arm), 0) == r.n_lesions
    assert (lesions.organ == "liver").all() and (lesions.measured_mm > 0).all()


def test_non_randomised_patients_records_stand_in_every_arm(run):
    _, rows, visits, _ = run
    not_randomised = rows[~rows.randomised].patient_id.unique()
    assert len(not_randomised) and rows.randomised.any()
    mine = visits[visits.patient_id.isin(not_randomised)]
    a, b = (mine[mine.arm == arm].drop(columns="arm").reset_index(drop=True) for arm in ("resect", "switch"))
    pd.testing.assert_frame_equal(a, b)


def test_visit_records_are_the_same_handed_over_replayed_and_in_any_block(run, tmp_path, monkeypatch):
    visits_only = dict(SPEC, records=["visits"])
    run_trial(load_trial(dict(visits_only, block_size=40)), tmp_path / "handed")
    monkeypatch.setattr(runner, "FORK_AT_RANDOMISATION", False)
    run_trial(load_trial(visits_only), tmp_path / "replayed")
    _, _, visits, _ = run  # lesions kept: replayed, blocks of 20
    pd.testing.assert_frame_equal(read(tmp_path / "handed", "visits"), visits)
    pd.testing.assert_frame_equal(read(tmp_path / "replayed", "visits"), visits)
    assert not list((tmp_path / "handed").glob("lesions-*"))


def test_resume_rewrites_the_records_of_an_unfinished_block(run, tmp_path):
    _, _, visits, lesions = run
    trial = load_trial(SPEC)
    run_trial(trial, tmp_path)
    block_path(tmp_path, 1).unlink()  # killed after its records, before its block file
    records_path(tmp_path, "visits", 1).write_bytes(b"not parquet")
    assert run_trial(trial, tmp_path, resume=True).blocks_written == 1
    pd.testing.assert_frame_equal(read(tmp_path, "visits"), visits)
    pd.testing.assert_frame_equal(read(tmp_path, "lesions"), lesions)


@pytest.mark.parametrize(
    "records,message",
    [(["scans"], r"records\.0: Input should be 'visits' or 'lesions'"),
     (["visits", "visits"], r"records lists a kind twice")],
)
def test_bad_records_are_named(records, message):
    with pytest.raises(InputError, match=message):
        load_trial(dict(SPEC, records=records))


def test_cli_records_option(tmp_path):
    from typer.testing import CliRunner

    from gistsim.cli import app

    bad = CliRunner().invoke(app, ["trial", "--n", "4", "--records", "visits,scans", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "records.1: Input should be 'visits' or 'lesions' (got 'scans')" in bad.output
    assert not (tmp_path / "bad").exists()
    ok = CliRunner().invoke(app, ["trial", "--n", "4", "--records", "visits", "--no-analyze", "--out", str(tmp_path / "ok")])
    assert ok.exit_code == 0, ok.output
    assert [p.name for p in sorted((tmp_path / "ok").iterdir())] == ["block-00000.parquet", "visits-00000.parquet"]
