"""Validation and calibration end to end (small), landmark randomisation, new result columns."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from gistsim.calibration.fit import FITTED, to_value, to_z
from gistsim.calibration.simulate import target_trials
from gistsim.calibration.targets import builtin_targets
from gistsim.calibration.validate import run_validation
from gistsim.cli import app
from gistsim.clinic.course import secondary_found
from gistsim.clinic.reading import CR, NE, PD, PR, SD
from gistsim.engine.clones import CloneTable
from gistsim.model import Model
from gistsim.trials.runner import best_response, run_block
from gistsim.trials.spec import load_trial


def test_best_response_ends_at_the_first_progression():
    days = np.array([84.0, 168.0, 252.0, 336.0])
    assert best_response(np.array([SD, PR, PD, CR]), days, 0.0, np.inf) == "PR"
    assert best_response(np.array([PD, PR, PR, CR]), days, 0.0, np.inf) == "PD"
    assert best_response(np.array([NE, -1, SD, PD]), days, 0.0, np.inf) == "SD"
    assert best_response(np.array([PR, PR, SD, CR]), days, 168.0, np.inf) == "CR"  # a later line's window
    assert best_response(np.array([PR, SD, SD, SD]), days, 0.0, 84.0) == "PR"
    assert best_response(np.array([-1, -1, -1, -1]), days, 0.0, np.inf) == "NE"


def test_secondary_mutations_found_count_distinct_mutations_above_the_detection_share():
    from gistsim.biology.genotypes import default_registry

    reg = default_registry()
    a, b = reg.secondary[0].name, reg.secondary[1].name
    codes = [reg.code("KIT_exon11"), reg.code("KIT_exon11", [a]), reg.code("KIT_exon11", [b]),
             reg.code("KIT_exon11", [a, b])]  # fmt: skip
    # Patient 0: lesion 0 has a at 20% (found) and b at 5% (missed); lesion 1 has a+b at 50% (found: 2 mutations).
    # Patient 1: only a at 1% (missed).
    table = CloneTable.from_arrays(
        lesion=np.array([0, 0, 0, 1, 1, 2, 2]), group=np.array([0, 0, 0, 0, 0, 1, 1]),
        genotype=np.array([codes[0], codes[1], codes[2], codes[0], codes[3], codes[0], codes[1]]),
        count=np.array([75, 20, 5, 50, 50, 99, 1]), n_genotypes=reg.n_genotypes,
    )  # fmt: skip
    np.testing.assert_array_equal(secondary_found(table, 0.15, 2), [2, 0])
    np.testing.assert_array_equal(secondary_found(table, 0.01, 2), [2, 1])


def test_landmark_randomisation_starts_at_the_first_visit_after_the_landmark():
    trial = load_trial("bfr14-1y").model_copy(update={"patients": 60, "block_size": 60})
    df = pd.DataFrame(run_block(trial.model_dump_json(), 0))
    rand = df[df.randomised]
    assert len(rand) > 0 and (rand.time_origin_day == 420.0).all()  # visits every 84 days: first >= 365.25
    # Nobody randomised had progressed before the landmark, and the arms differ only after it.
    for _, row in rand[rand.arm == "stop"].iterrows():
        ev = json.loads(row.events_json)
        assert not any(kind == "progression" and d <= 0 for d, kind, _ in ev)
        assert any(kind == "stop" and abs(d) < 1e-6 for d, kind, _ in ev)
    assert set(df[~df.randomised].arm) == {"continue", "stop"}


def test_trial_parameters_are_validated_and_used():
    base = load_trial("bfr14-1y").model_dump()
    with pytest.raises(ValueError, match="parameter 'evolution.nope': 'nope' is not a field of evolution; accepted values: birth_rate"):
        load_trial({**base, "parameters": {"evolution.nope": 1.0}})
    with pytest.raises(ValueError, match="landmark_years is required"):
        load_trial({**base, "landmark_years": None})
    t = load_trial({**base, "patients": 20, "block_size": 20, "parameters": {"clinic.death.burden_exponent": 0.7}})
    from gistsim.trials.runner import metadata

    assert metadata(t)["parameters"]["clinic"]["death"]["burden_exponent"] == 0.7


def test_z_scale_round_trips_and_spans_the_prior():
    for path in FITTED:
        v = Model.build("priors").value(path)
        assert to_value(path, to_z(path, v)) == pytest.approx(v)
        prior = Model.build("priors").parameter(path).prior
        if prior.kind == "uniform":
            assert to_value(path, -3) == pytest.approx(prior.low) and to_value(path, 3) == pytest.approx(prior.high)


@pytest.fixture(scope="module")
def validation(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    outcomes, _ = run_validation(out, scale=0.01)
    return out, outcomes


def test_validation_writes_every_target_with_the_required_fields(validation):
    out, _ = validation
    doc = json.loads((out / "validation.json").read_text())
    assert [d["name"] for d in doc] == [t.name for t in builtin_targets()]
    for d in doc:
        assert {"name", "published", "simulated", "lo", "hi", "tolerance", "within"} <= set(d)
        assert isinstance(d["within"], bool) and d["tolerance"] > 0
        if not d["within"]:
            assert d["reason"]
    html = (out / "validation.html").read_text()
    assert "targets" in html and html.count("<img") >= 5 and "data:image/png;base64," in html
    assert "imatinib-400: outcomes by driver" in html and 'alt="imatinib-400 PFS by driver"' in html
    bd = json.loads((out / "by_driver.json").read_text())
    assert (bd["trial"], bd["arm"]) == ("first-line-imatinib", "imatinib-400")
    assert bd["rows"][-1]["driver"] == "all" and sum(r["n"] for r in bd["rows"][:-1]) == bd["rows"][-1]["n"]
    bl = json.loads((out / "by_line.json").read_text())
    first = next(d for d in bl if (d["trial"], d["arm"]) == ("first-line-imatinib", "imatinib-400"))
    # Every patient of the arm starts on line 1 with imatinib 400 mg; later lines hold fewer.
    assert [r["regimen"] for r in first["rows"] if r["line"] == 1] == ["imatinib_400mg_daily"]
    assert first["rows"][0]["n"] == bd["rows"][-1]["n"]
    assert sum(r["n"] for r in first["rows"] if r["line"] == 2) <= first["rows"][0]["n"]
    assert "<h2>Lines of therapy</h2>" in html and "later-lines, full-sequence</h3>" in html
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    assert "seeds</td><td>each trial&#x27;s own</td>" in html


def test_a_seed_offset_moves_every_target_trial_to_other_patients_and_nothing_else():
    targets = list(builtin_targets())
    base = target_trials(targets, scale=0.01)
    moved = target_trials(targets, scale=0.01, seed_offset=3)
    assert base.keys() == moved.keys()
    assert all(moved[k].seed == base[k].seed + 3 for k in base)
    assert all(moved[k].model_dump(exclude={"seed"}) == base[k].model_dump(exclude={"seed"}) for k in base)


def test_validation_refuses_blocks_of_another_run(validation, tmp_path):
    out, _ = validation
    with pytest.raises(FileExistsError, match="different run"):
        run_validation(out, scale=0.02)


def test_calibrate_quick_writes_a_shippable_parameter_file(tmp_path):
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--workers", "1", "--out", str(tmp_path), "--evaluations", "2"])
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((tmp_path / "calibrated.yaml").read_text())
    assert set(doc["values"]) == set(FITTED)
    prov = doc["provenance"]
    assert {"method", "seed", "date", "version", "evaluations", "targets"} <= set(prov)
    assert prov["evaluations"] == 2 and len(prov["targets"]) >= 30
    Model.build("priors", doc["values"])  # every fitted name is a real parameter
    for path, v in doc["values"].items():
        assert abs(to_z(path, v)) <= 3 + 1e-6
    hist = json.loads((tmp_path / "calibration.json").read_text())["history"]
    assert len(hist) == 2 and all(np.isfinite(h["objective"]) for h in hist)


@pytest.mark.parametrize("beyond", ["stop", "continue"])
def test_beyond_last_continues_the_last_regimen_or_stops(tmp_path, beyond):
    (tmp_path / "s.yaml").write_text(f"name: only-imatinib\nstart: imatinib_400mg_daily\nbeyond_last: {beyond}\n")
    (tmp_path / "p.yaml").write_text(
        "name: wt\ndriver_probabilities: {wild_type: 1}\nage_years: {low: 50, high: 60}\n"
        "lesion_organs: {liver: 1}\nlesion_count: {low: 2, high: 3}\nlesion_diameter_mm: {low: 30, high: 50}\n"
    )
    spec = {"name": "t", "population": str(tmp_path / "p.yaml"), "patients": 30, "block_size": 30, "seed": 3,
            "horizon_years": 3, "arms": [{"name": "a", "strategy": str(tmp_path / "s.yaml")}]}  # fmt: skip
    df = pd.DataFrame(run_block(load_trial(spec).model_dump_json(), 0))
    progressed = df.line1_ttp_event.astype(bool)
    assert progressed.sum() >= 5  # wild type progresses on imatinib
    if beyond == "stop":
        assert (df.loc[progressed, "line2_regimen"] == "best_supportive_care").all()
    else:
        # Only intolerance (not progression) ends the line: the drug goes on beyond progression.
        second = df[df.line2_regimen.notna()]
        assert len(second) < progressed.sum()
        assert all('"discontinuation"' in e for e in second.events_json)


def test_calibration_can_start_from_the_shipped_set_and_rejects_other_starts():
    from gistsim.calibration.fit import FITTED, start_values
    from gistsim.model import Model

    shipped = start_values("calibrated")
    assert set(shipped) == set(FITTED)
    assert shipped["evolution.birth_rate_per_day"] == Model.build("calibrated").value("evolution.birth_rate_per_day")
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--start", "latest", "--out", "unused"],
                                env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "accepted values: priors, calibrated" in result.output


def test_secondary_mutations_found_only_in_the_largest_lesions_sampled():
    from gistsim.biology.genotypes import default_registry

    reg = default_registry()
    a, b, c = (reg.code("KIT_exon11", [s.name]) for s in reg.secondary[:3])
    # One patient: lesion 0 (300 cells) all a; lesion 1 (100) half b, half c; lesion 2 (200) all a.
    table = CloneTable.from_arrays(
        lesion=np.array([0, 1, 1, 2]), group=np.zeros(4, dtype=np.int64), genotype=np.array([a, b, c, a]),
        count=np.array([300, 50, 50, 200]), n_genotypes=reg.n_genotypes,
    )  # fmt: skip
    assert secondary_found(table, 0.15, 1).tolist() == [3]
    assert secondary_found(table, 0.15, 1, lesions_sampled=2).tolist() == [1]  # lesions 0 and 2
    assert secondary_found(table, 0.15, 1, lesions_sampled=3).tolist() == [3]
    # Two patients are ranked apart: patient 1's small lesion is its largest.
    table = CloneTable.from_arrays(
        lesion=np.array([0, 1, 2]), group=np.array([0, 0, 1]), genotype=np.array([a, b, c]),
        count=np.array([300, 100, 5]), n_genotypes=reg.n_genotypes,
    )  # fmt: skip
    assert secondary_found(table, 0.15, 2, lesions_sampled=1).tolist() == [1, 1]
    with pytest.raises(ValueError, match="lesions_sampled = 0 is not accepted"):
        secondary_found(table, 0.15, 2, lesions_sampled=0)


@pytest.mark.parametrize("sampled", [None, 1, 2])
def test_secondary_mutations_of_a_patient_depend_on_its_own_clones_only(sampled):
    # The course sequences only the patients at their first progression, on their clones alone.
    from gistsim.biology.genotypes import default_registry

    reg = default_registry()
    rng = np.random.default_rng(3)
    n_patients, n_clones = 40, 600
    lesion = np.sort(rng.integers(0, 120, n_clones))
    table = CloneTable.from_arrays(
        lesion=lesion, group=lesion // 3, genotype=rng.integers(0, reg.n_genotypes, n_clones),
        count=rng.integers(1, 1000, n_clones), n_genotypes=reg.n_genotypes,
    )  # fmt: skip
    full = secondary_found(table, 0.15, n_patients, sampled)
    assert full.max() >= 2  # the draw exercises several mutations per patient
    asking = rng.random(n_patients) < 0.3
    part = secondary_found(table.rows(asking[table.group]), 0.15, n_patients, sampled)
    np.testing.assert_array_equal(part[asking], full[asking])
    assert (part[~asking] == 0).all()
