"""Resorption of dead tissue: first-order, or from the surface (the diameter shrinking at a constant rate)."""

import numpy as np
import pytest

from gistsim.clinic.imaging import resorb


def test_first_order_is_the_default_and_keeps_its_half_life_at_every_size():
    v = np.array([1e6, 1e9, 1e12])
    np.testing.assert_allclose(resorb(v, 100.0, 100.0), v / 2)
    np.testing.assert_allclose(resorb(v, 100.0, 100.0, exponent=1.0, reference_cells=5.0), v / 2)


def test_surface_law_halves_the_reference_in_one_half_life_and_shrinks_the_diameter_linearly():
    ref = 1e10
    law = dict(exponent=2.0 / 3.0, reference_cells=ref)
    assert resorb(np.array([ref]), 200.0, 200.0, **law)[0] == pytest.approx(ref / 2, rel=1e-9)
    # Diameter ∝ V^(1/3) falls by the same amount in equal times, whatever the size.
    v0 = np.array([1e8, 1e10, 1e12])
    drop1 = np.cbrt(v0) - np.cbrt(resorb(v0, 50.0, 200.0, **law))
    np.testing.assert_allclose(drop1, drop1[0], rtol=1e-9)
    # Small remnants vanish in finite time; large ones lose a smaller share than first-order would.
    gone = resorb(np.array([1e7]), 400.0, 200.0, **law)[0]
    big = resorb(np.array([1e12]), 200.0, 200.0, **law)[0]
    assert gone == 0.0 and big > 0.5e12


def test_steps_compose():
    law = dict(exponent=0.75, reference_cells=1e9)
    v = np.array([3e8, 2e10])
    np.testing.assert_allclose(resorb(resorb(v, 30.0, 90.0, **law), 54.0, 90.0, **law), resorb(v, 84.0, 90.0, **law))


def test_no_dead_tissue_stays_none_and_the_rest_resorbs_as_alone():
    """Lesions without dead tissue (or negative/NaN input) next to lesions with some: each entry
    is what it would be on its own (surface law: V(t)^(1/3) = V0^(1/3) - c·t, clipped at 0)."""
    law = dict(exponent=2.0 / 3.0, reference_cells=1e10)
    mixed = np.array([0.0, 1e10, 0.0, -5.0, 1e8, np.nan])
    got = resorb(mixed, 200.0, 200.0, **law)
    assert got[0] == 0.0 and got[2] == 0.0 and got[3] == 0.0 and np.isnan(got[5])
    assert got[1] == resorb(np.array([1e10]), 200.0, 200.0, **law)[0]
    assert got[4] == resorb(np.array([1e8]), 200.0, 200.0, **law)[0]
    c = (1e10 ** (1 / 3)) * (1 - 2 ** (-1 / 3)) / 200.0
    assert got[4] == pytest.approx(max(1e8 ** (1 / 3) - c * 200.0, 0.0) ** 3, rel=1e-9)
