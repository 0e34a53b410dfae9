"""Where a calibration starts and what it searches: the shipped set reproduced, a subset searched."""

import yaml
from typer.testing import CliRunner

from gistsim.calibration import fit
from gistsim.calibration.fit import FITTED, calibrate, start_values, to_z
from gistsim.cli import app
from gistsim.model import Model


def _values(model: Model) -> dict:
    rec = model.record()
    return {k: rec[k] for k in ("evolution", "clinic", "potency")}


def test_starting_from_the_shipped_set_reproduces_every_value_of_it():
    # Candidates are built on the data files' values: a shipped value that is not fitted would
    # silently fall back to its prior in every candidate of a refinement.
    assert _values(Model.build("priors", start_values("calibrated"))) == _values(Model.build("calibrated"))


def test_only_the_free_parameters_move_and_the_result_lists_every_fitted_one(tmp_path, monkeypatch):
    free = ("potency.emax_per_day", "clinic.death.lethal_volume_cm3")
    start = start_values("calibrated") | {"evolution.kill_slowing_exponent": 0.25}
    seen = []

    def objective(values, scale):  # a bowl in the free parameters' z, cheap: no simulation
        seen.append(dict(values))
        d = sum((to_z(k, values[k]) - 1.0) ** 2 for k in free)
        return d, d, 0

    monkeypatch.setattr(fit, "objective", objective)
    result = calibrate(tmp_path, start=start, free=free, max_evaluations=40, popsize=8, sigma0=0.5, seed=3)
    assert len(seen) == 40
    for values in seen:
        assert set(values) == set(FITTED)
        assert all(values[k] == start[k] for k in FITTED if k not in free)
    assert len({v["potency.emax_per_day"] for v in seen}) == 40
    doc = yaml.safe_load((tmp_path / "calibrated.yaml").read_text())
    assert set(doc["values"]) == set(FITTED) and doc["provenance"]["free"] == list(free)
    assert doc["values"]["evolution.kill_slowing_exponent"] == 0.25
    # The search moved toward the bowl's bottom at z = 1 from the start.
    first = sum((to_z(k, seen[0][k]) - 1.0) ** 2 for k in free)
    assert result.best_objective < first


def test_unknown_free_or_start_names_are_refused_with_the_accepted_ones(tmp_path):
    runner = CliRunner()
    for args in (["--free", "evolution.no_such_rate"], ["--set", "evolution.no_such_rate=1"]):
        out = runner.invoke(app, ["calibrate", "--quick", "--out", str(tmp_path), *args], env={"COLUMNS": "300"})
        assert out.exit_code != 0
        assert "evolution.no_such_rate" in out.output and "potency.emax_per_day" in out.output
        assert not (tmp_path / "calibrated.yaml").exists()
