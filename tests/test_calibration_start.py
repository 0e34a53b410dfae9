"""Where a calibration starts and what it searches: the shipped set reproduced, a subset searched."""

import pytest
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
    refined = Model.build("priors", start_values("calibrated"))
    assert _values(refined) == _values(Model.build("calibrated"))


def test_only_the_free_parameters_move_and_the_result_lists_every_fitted_one(tmp_path, monkeypatch):
    free = ("potency.emax_per_day", "clinic.death.lethal_volume_cm3")
    start = start_values("calibrated") | {"evolution.kill_slowing_exponent": 0.25}
    seen = []

    def objective(values, scale, loss="cauchy"):  # a bowl in the free parameters' z, cheap: no simulation
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


def test_welsch_loss_lets_unreachable_targets_go_and_keeps_near_ones():
    from gistsim.calibration.simulate import Z_WELSCH, loss

    for kind in ("cauchy", "welsch"):
        assert loss(0.0, kind) == 0.0 and loss(0.05, kind) == pytest.approx(0.0025, rel=0.01)  # z² near 0
    # Bringing a target from 1.2 to 0.8 tolerances (into its band) against bringing a far one
    # from 10 to 5: the Cauchy loss prefers the far one, the Welsch loss the near one.
    near = lambda kind: loss(1.2, kind) - loss(0.8, kind)  # noqa: E731
    far = lambda kind: loss(10.0, kind) - loss(5.0, kind)  # noqa: E731
    assert far("cauchy") > near("cauchy")
    assert near("welsch") > 20 * far("welsch")
    assert loss(1e6, "welsch") == pytest.approx(Z_WELSCH**2)
    with pytest.raises(ValueError, match="accepted values: cauchy, welsch"):
        loss(1.0, "huber")


def test_the_loss_chosen_reaches_every_candidate_and_the_provenance(tmp_path, monkeypatch):
    seen = []

    def objective(values, scale, loss="cauchy"):
        seen.append(loss)
        d = values["potency.emax_per_day"]  # not flat: CMA-ES stops early on a flat objective
        return d, d, 0

    monkeypatch.setattr(fit, "objective", objective)
    calibrate(tmp_path, start=start_values("calibrated"), free=("potency.emax_per_day",), loss="welsch",
              max_evaluations=4, popsize=2, seed=1)  # fmt: skip
    assert seen == ["welsch"] * 4
    assert "welsch loss" in yaml.safe_load((tmp_path / "calibrated.yaml").read_text())["provenance"]["method"]
    out = CliRunner().invoke(app, ["calibrate", "--quick", "--loss", "huber", "--out", str(tmp_path / "x")],
                             env={"COLUMNS": "200"})  # fmt: skip
    assert out.exit_code != 0 and "accepted values: cauchy, welsch" in out.output
