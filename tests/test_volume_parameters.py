import numpy as np
import pytest
from pydantic import ValidationError

from gistsim.biology import volume
from gistsim.biology.parameters import EvolutionParameters, default_evolution


def test_sphere_of_one_cm3():
    # A 1 cm³ sphere has diameter (6/π)^(1/3) cm = 12.407 mm.
    assert volume.volume_cm3_to_diameter_mm(1.0) == pytest.approx(12.407, abs=1e-3)
    assert volume.cells_to_diameter_mm(1e9, 1e9) == pytest.approx(12.407, abs=1e-3)


def test_round_trips():
    d = np.array([0.0, 5.0, 10.0, 123.0])
    np.testing.assert_allclose(volume.cells_to_diameter_mm(volume.diameter_mm_to_cells(d, 3e8), 3e8), d, atol=1e-9)


@pytest.mark.parametrize("call", [lambda: volume.cells_to_diameter_mm(-1, 1e8), lambda: volume.diameter_mm_to_cells(5, 0)])
def test_bad_values_are_named(call):
    with pytest.raises(ValueError, match="cells|cells_per_cm3"):
        call()


def test_defaults_have_sources_and_positive_death_rate():
    evo = default_evolution()
    for name in EvolutionParameters.model_fields:
        assert getattr(evo, name).source
    assert evo.death_rate_per_day > 0


def test_prior_draws_are_reproducible_and_valid():
    a = default_evolution().sample(np.random.default_rng(3))
    b = default_evolution().sample(np.random.default_rng(3))
    assert a.values() == b.values()
    assert a.values() != default_evolution().values()
    assert all(default_evolution().sample(np.random.default_rng(s)).death_rate_per_day > 0 for s in range(200))


def test_unknown_key_is_an_error_naming_it():
    raw = default_evolution().model_dump()
    raw["birth_rate_per_day"]["prior"]["sigma"] = 1.0
    with pytest.raises(ValidationError, match="birth_rate_per_day.prior.lognormal.sigma"):
        EvolutionParameters.model_validate(raw)
