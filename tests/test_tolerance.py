"""Adaptive tolerance: the step averages against the ODE integrated finely, its limits, its errors,
and its effect on a course (off when the floor is 1; at floor 0 sensitive disease escapes)."""

import numpy as np
import pytest

from gistsim.clinic.tolerance import tolerance_step

RATE = 0.0031


def _fine(level, on, pause, dt, rate, floor, n=200_000):
    """Euler on a fine grid: the kill factor's average over the days on drug, and T at the end."""
    h = dt / n
    t = level
    factors = []
    for k in range(n):
        s = (k + 0.5) * h
        if on and s >= pause:
            factors.append(1.0 - (1.0 - floor) * t)
            t += h * rate * (1.0 - t)
        else:
            t -= h * rate * t
    return (np.mean(factors) if factors else 1.0), t


@pytest.mark.parametrize(
    ("level", "on", "pause", "dt", "floor"),
    [(0.0, True, 0.0, 84.0, 0.5), (0.3, True, 28.0, 84.0, 0.2), (0.8, False, 0.0, 84.0, 0.5),
     (0.5, True, 84.0, 84.0, 0.0), (0.1, True, 0.0, 900.0, 0.7)],
)  # fmt: skip
def test_step_average_and_end_level_match_the_ode(level, on, pause, dt, floor):
    factor, end = tolerance_step(np.array([level]), np.array([on]), np.array([pause]), dt, RATE, floor)
    want_factor, want_end = _fine(level, on, pause, dt, RATE, floor)
    # Euler's midpoint sums have error O(h) = O(dt / 200000): far below 1e-5.
    assert factor[0] == pytest.approx(want_factor, abs=1e-5)
    assert end[0] == pytest.approx(want_end, abs=1e-5)


def test_two_half_steps_end_where_one_step_does():
    level = np.array([0.0, 0.4, 0.9])
    on = np.array([True, False, True])
    _, one = tolerance_step(level, on, np.zeros(3), 84.0, RATE, 0.5)
    _, half = tolerance_step(level, on, np.zeros(3), 42.0, RATE, 0.5)
    _, two = tolerance_step(half, on, np.zeros(3), 42.0, RATE, 0.5)
    np.testing.assert_allclose(two, one, rtol=1e-12)


def test_limits_floor_one_is_off_and_long_exposure_reaches_the_floor():
    factor, end = tolerance_step(np.array([0.0, 0.7]), np.array([True, True]), np.zeros(2), 84.0, RATE, 1.0)
    np.testing.assert_array_equal(factor, 1.0)
    level = np.zeros(1)
    for _ in range(200):  # 200 x 84 days: e^(-52) of the way left
        factor, level = tolerance_step(level, np.array([True]), np.zeros(1), 84.0, RATE, 0.3)
    assert factor[0] == pytest.approx(0.3, abs=1e-9)
    # Off drug the tolerance fades as e^(-rate t) and the (untreated) factor is 1.
    factor, end = tolerance_step(np.array([1.0]), np.array([False]), np.zeros(1), 100.0, RATE, 0.3)
    assert factor[0] == 1.0
    assert end[0] == pytest.approx(np.exp(-RATE * 100.0), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"floor": 1.5}, "tolerance_kill_floor = 1.5"), ({"rate_per_day": -0.1}, "tolerance_rate_per_day = -0.1"),
     ({"level": np.array([1.2])}, r"tolerance_level\[0\] = 1.2"), ({"rate_per_day": float("nan")}, "tolerance_rate_per_day = nan")],
)  # fmt: skip
def test_bad_input_is_refused_by_name(kwargs, message):
    args = {"level": np.zeros(1), "on_drug": np.ones(1, bool), "off_days": np.zeros(1), "dt_days": 84.0,
            "rate_per_day": RATE, "floor": 0.5} | kwargs  # fmt: skip
    with pytest.raises(ValueError, match=message):
        tolerance_step(**args)


def _course(floor, rate=RATE, *, wild_type_floor=1.0, driver="KIT_exon11"):
    from test_course import EVO, NO_DEATH, cohort, run

    params = (EVO.tolerance_kill_floor, EVO.tolerance_rate_per_day, EVO.tolerance_kill_floor_wild_type)
    saved = [p.value for p in params]
    for p, v in zip(params, (floor, rate, wild_type_floor)):
        p.value = v
    try:
        return run(cohort(10, [30.0, 20.0], driver=driver), "standard-sequence", years=3.0,
                   imaging__measurement_cv=0.0, **NO_DEATH)  # fmt: skip
    finally:
        for p, v in zip(params, saved):
            p.value = v


def test_courses_without_tolerance_are_unchanged_and_full_tolerance_lets_sensitive_disease_escape():
    off = _course(1.0)
    again = _course(1.0, rate=0.5)  # the rate is irrelevant when nothing fades
    np.testing.assert_array_equal(np.vstack(off.target_sum_mm), np.vstack(again.target_sum_mm))
    assert not [e for e in off.events if e[2] == "progression"]  # exon 11 without resistant clones: controlled
    # Floor 0 at a fast rate: within months the kill is gone and the disease grows as untreated.
    escaped = _course(0.0, rate=0.05)
    assert [e for e in escaped.events if e[2] == "progression"]
    # Escaped disease has grown by the visit at 168 days (at the shipped pace it is lethal within a
    # year); controlled disease has shrunk by 336 days.
    assert (np.vstack(escaped.target_sum_mm)[2] > 1.2 * np.vstack(escaped.target_sum_mm)[0]).all()
    assert (np.vstack(off.target_sum_mm)[4] < 0.8 * np.vstack(off.target_sum_mm)[0]).all()


def test_the_wild_type_floor_applies_to_wild_type_patients_only():
    sums = lambda rec: np.vstack(rec.target_sum_mm)  # noqa: E731
    kit = _course(1.0, 0.05)
    np.testing.assert_array_equal(sums(_course(1.0, 0.05, wild_type_floor=0.0)), sums(kit))
    wt_off = _course(1.0, 0.05, driver="wild_type")
    wt_on = _course(1.0, 0.05, wild_type_floor=0.0, driver="wild_type")
    # At 84 days (before any decision can differ) the tolerant wild-type tumours are larger.
    assert (sums(wt_on)[1] > sums(wt_off)[1]).all()
