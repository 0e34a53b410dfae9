"""Parameter sets: shipped calibrated defaults over the priors' medians, overrides by dotted name."""

import numpy as np
import pytest

from gistsim._calibrated import shipped
from gistsim._data import load_yaml
from gistsim.biology.parameters import default_evolution
from gistsim.clinic.parameters import default_clinic
from gistsim.clinic.course import growth_factor
from gistsim.clinic.pd import DrugRates
from gistsim.model import Model


def test_priors_are_the_data_files_and_calibrated_puts_the_shipped_values_over_them():
    raw = load_yaml("evolution.yaml")
    priors = Model.build("priors")
    assert priors.value("evolution.birth_rate_per_day") == raw["birth_rate_per_day"]["value"]
    cal = Model.build("calibrated")
    for path, value in shipped()["values"].items():
        assert cal.value(path) == pytest.approx(value)
    for path in ("evolution.net_growth_rate_per_day", "clinic.imaging.scar_fraction"):
        expected = shipped()["values"].get(path, priors.value(path))
        assert cal.value(path) == pytest.approx(expected)
    # The module defaults are the calibrated set; calibrated=False gives the medians.
    assert default_evolution().birth_rate_per_day.value == cal.value("evolution.birth_rate_per_day")
    assert default_clinic(calibrated=False).imaging.scar_fraction.value == priors.value("clinic.imaging.scar_fraction")


def test_overrides_set_values_keep_priors_and_are_recorded():
    m = Model.build("priors", {"evolution.birth_rate_per_day": 0.07, "potency.emax_per_day": 0.05})
    assert m.value("evolution.birth_rate_per_day") == 0.07
    assert m.potency.emax_per_day == 0.05
    assert m.parameter("evolution.birth_rate_per_day").prior.kind == "lognormal"
    rec = m.record()
    assert rec["overrides"] == {"evolution.birth_rate_per_day": 0.07, "potency.emax_per_day": 0.05}
    assert rec["evolution"]["birth_rate_per_day"] == 0.07
    assert Model.build("priors").value("evolution.birth_rate_per_day") != 0.07  # no leak into the cache


@pytest.mark.parametrize(
    "path, message",
    [("clinic.imaging.foo", "'foo' is not a field of clinic.imaging; accepted values: detection_limit_mm"),
     ("biology.x", "a name starts with one of evolution, clinic, potency"),
     ("clinic.imaging", "names a group")],
)  # fmt: skip
def test_unknown_names_are_errors_naming_the_accepted_ones(path, message):
    with pytest.raises(KeyError, match=message):
        Model.build(overrides={path: 1.0})


@pytest.mark.parametrize(
    "path, value, message",
    [("potency.host_kill_per_day.imatinib", -0.001, r"uniform, accepted values are 0 to 0\.005"),
     ("evolution.secondary_relative_growth", 1.4, r"uniform, accepted values are 0\.3 to 1"),
     ("evolution.birth_rate_per_day", 0.0, "lognormal, accepted values are > 0"),
     ("clinic.death.lethal_volume_cm3", -5.0, "lognormal|uniform")],
)  # fmt: skip
def test_values_outside_their_priors_support_are_errors_naming_the_parameter(path, value, message):
    with pytest.raises(ValueError, match=f"parameter '{path}' = {value!r} is not accepted: its prior is (?:{message})"):
        Model.build(overrides={path: value})


def test_a_data_file_value_outside_its_priors_support_fails_validation():
    from pydantic import ValidationError

    from gistsim.biology.parameters import Parameter

    ok = {"prior": {"kind": "uniform", "low": 0.3, "high": 1.0}, "source": "test"}
    assert Parameter.model_validate({"value": 1.0, **ok}).value == 1.0
    with pytest.raises(ValidationError, match="accepted values are 0.3 to 1"):
        Parameter.model_validate({"value": 1.2, **ok})
    # The shipped files load through both checks (data values, then calibrated values over them).
    assert Model.build("calibrated").value("potency.host_kill_per_day.imatinib") > 0.0


def test_pace_factor_scales_untreated_rates_but_not_the_drug_kill():
    kw = dict(birth_rate_per_day=0.04, death_rate_per_day=0.03, conc_ng_ml=np.full((1, 2), 1000.0),
              drug="imatinib")  # fmt: skip
    plain = DrugRates(**kw)
    scaled = DrugRates(**kw, group_scale=np.array([1.0, 2.0]))
    g = np.array([0, 1])
    geno = np.array([0, 0])
    b0, d0 = plain.rates(g, geno)
    b1, d1 = scaled.rates(g, geno)
    kill = plain.kill_per_day(g, geno)
    np.testing.assert_allclose(b1, b0 * [1.0, 2.0])
    np.testing.assert_allclose(d1 - kill, (d0 - kill) * [1.0, 2.0])


def test_growth_factor_slows_net_growth_through_birth_and_leaves_death_and_kill():
    kw = dict(birth_rate_per_day=0.06, death_rate_per_day=0.04, conc_ng_ml=np.full((1, 3), 1000.0),
              drug="imatinib")  # fmt: skip
    g = np.array([0, 1, 2])
    geno = np.zeros(3, dtype=np.int64)
    factor = growth_factor(np.array([0.0, 500.0, 1500.0]), 500.0)
    np.testing.assert_allclose(factor, [1.0, 0.5, 0.25])
    plain, slowed = DrugRates(**kw), DrugRates(**kw, group_growth=factor)
    b0, d0 = plain.rates(g, geno)
    b1, d1 = slowed.rates(g, geno)
    np.testing.assert_array_equal(d1, d0)
    np.testing.assert_allclose(b1, 0.04 + 0.02 * factor[None, :])
    # With the pace factor as well: the pace scales the slowed untreated rates.
    paced = DrugRates(**kw, group_growth=factor, group_scale=np.array([2.0, 2.0, 2.0]))
    b2, d2 = paced.rates(g, geno)
    kill = plain.kill_per_day(g, geno)
    np.testing.assert_allclose(b2, 2 * (0.04 + 0.02 * factor[None, :]))
    np.testing.assert_allclose(d2 - kill, 2 * (d0 - kill))


def test_pace_factor_tail_is_clipped_at_three_sigma():
    from gistsim.clinic.cohort import PACE_Z_MAX, draw_pace

    class Extreme:
        def standard_normal(self, owner):
            return np.array([-8.0, 0.0, 8.0])[: len(owner)]

    pace = draw_pace(3, 0.68, Extreme())
    np.testing.assert_allclose(pace, np.exp(0.68 * np.array([-PACE_Z_MAX, 0.0, PACE_Z_MAX])))  # median 1


def test_data_files_parse_the_same_with_the_fast_loader_as_with_safe_load():
    # load_yaml uses libyaml's parser when present; every shipped file must read exactly as PyYAML's
    # pure-Python safe loader reads it (same values, same types).
    from importlib import resources

    import yaml

    root = resources.files("gistsim.data")
    names = [p.name for p in root.iterdir() if p.name.endswith(".yaml")]
    assert len(names) >= 5
    for name in names:
        expected = yaml.safe_load(root.joinpath(name).read_text(encoding="utf-8"))
        got = load_yaml(name)
        assert got == expected, name
        assert repr(got) == repr(expected), name  # e.g. 1 vs 1.0 vs True would compare equal
