"""The validation report's breakdown by driver, on rows whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gistsim.calibration.breakdown import by_driver, by_line, kaplan_meier_by_driver

YEAR = 365.25


def _rows() -> pd.DataFrame:
    """Two drivers, no censoring before 10 years: 'a' (4 patients) progresses at 1-4 years; 'b'
    (4 patients) has two progression-free past 10 years (censored at 11). One NE in 'a'."""
    pfs_years = [1, 2, 3, 4, 2, 5, 11, 11]
    pfs_event = [True, True, True, True, True, True, False, False]
    os_years = [2, 3, 4, 5, 6, 7, 11, 11]
    return pd.DataFrame({
        "arm": ["x"] * 8 + ["other"],
        "driver": ["a"] * 4 + ["b"] * 4 + ["a"],
        "best_response": ["PR", "CR", "SD", "NE", "PD", "PR", "CR", "CR", "PR"],
        "line1_ttp_days": [y * YEAR for y in pfs_years] + [YEAR],
        "line1_ttp_event": pfs_event + [True],
        "pfs_days": [y * YEAR for y in pfs_years] + [YEAR],
        "pfs_event": pfs_event + [True],
        "os_days": [y * YEAR for y in os_years] + [YEAR],
        "os_event": [True] * 6 + [False, False] + [True],
    })  # fmt: skip


def test_rates_and_shares_match_the_rows():
    t = by_driver(_rows(), "x").set_index("driver")
    assert list(t.index) == ["a", "b", "all"]
    assert t.loc["a", "n"] == 4 and t.loc["all", "n"] == 8 and t.loc["b", "share"] == 0.5
    # ORR over evaluable patients: a has PR, CR, SD (NE left out) -> 2/3; CR 1/3.
    assert t.loc["a", "orr"] == pytest.approx(2 / 3) and t.loc["a", "cr"] == pytest.approx(1 / 3)
    assert t.loc["b", "orr"] == pytest.approx(3 / 4)
    # Without censoring before the landmark, KM is the empirical share still event-free.
    assert t.loc["a", "pfs_3y"] == pytest.approx(1 / 4) and t.loc["a", "pfs_10y"] == 0
    assert t.loc["b", "pfs_3y"] == pytest.approx(3 / 4) and t.loc["b", "pfs_10y"] == pytest.approx(1 / 2)
    assert t.loc["all", "pfs_10y"] == pytest.approx(2 / 8)
    assert t.loc["a", "median_ttp_years"] == pytest.approx(2)
    assert t.loc["b", "os_10y"] == pytest.approx(1 / 2) and t.loc["b", "median_os_years"] == pytest.approx(7)
    # Every patient progression-free at 10 years is a 'b': the tail is all theirs.
    assert t.loc["b", "tail_share"] == pytest.approx(1) and t.loc["a", "tail_share"] == 0
    assert t.loc["all", "tail_share"] == pytest.approx(1)


def test_landmark_past_follow_up_is_missing_not_extrapolated():
    rows = _rows()
    rows["pfs_days"] = np.minimum(rows["pfs_days"], 5 * YEAR)
    t = by_driver(rows, "x").set_index("driver")
    assert math.isnan(t.loc["b", "pfs_10y"]) and not math.isnan(t.loc["b", "pfs_3y"])


def test_unknown_arm_and_endpoint_are_named():
    with pytest.raises(ValueError, match=r"arm = 'y' is not in the rows; accepted: other, x"):
        by_driver(_rows(), "y")
    with pytest.raises(ValueError, match=r"endpoint = 'ttp' is not accepted; accepted: pfs, os, line1_ttp"):
        kaplan_meier_by_driver(_rows(), "x", endpoint="ttp")


def test_curves_one_per_driver():
    ax = kaplan_meier_by_driver(_rows(), "x")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a (n=4)", "b (n=4)"]


MONTH = YEAR / 12


def _line_rows() -> pd.DataFrame:
    """Arm 'x': four patients on A first; three go on to B (one of them from a time origin 50 days
    in), one to C; 'y' is another arm. Every time is chosen so the medians can be read off."""
    return pd.DataFrame({
        "arm": ["x"] * 4 + ["y"],
        "time_origin_day": [0.0, 0.0, 50.0, 0.0, 0.0],
        "os_days": [300.0, 800.0, 650.0, 900.0, 100.0],
        "os_event": [True, True, True, False, True],
        "line1_regimen": ["A"] * 5,
        "line1_start_day": [0.0] * 5,
        "line1_best_response": ["PR", "PR", "SD", "NE", "PD"],
        "line1_pfs_days": [100.0, 400.0, 300.0, 600.0, 50.0],
        "line1_pfs_event": [True] * 5,
        "line2_regimen": ["B", "B", "B", "C", None],
        "line2_start_day": [100.0, 400.0, 350.0, 600.0, None],
        "line2_best_response": ["PD", "SD", "PR", "SD", None],
        "line2_pfs_days": [60.0, 90.0, 120.0, 300.0, None],
        "line2_pfs_event": [True, True, True, False, None],
    })  # fmt: skip


def test_by_line_reads_starts_and_survival_from_each_line():
    t = by_line(_line_rows(), "x").set_index(["line", "regimen"])
    assert list(t.index) == [(1, "A"), (2, "B"), (2, "C")]
    assert t.loc[(1, "A"), "n"] == 4 and t.loc[(2, "B"), "share"] == pytest.approx(3 / 4)
    # ORR over evaluable patients: A has PR, PR, SD (NE left out).
    assert t.loc[(1, "A"), "orr"] == pytest.approx(2 / 3) and t.loc[(2, "B"), "orr"] == pytest.approx(1 / 3)
    # B starts 100, 400 and 300 days after each patient's origin (350 - 50): the median is the
    # patient whose origin is shifted, so a start not measured from its origin would show.
    assert t.loc[(2, "B"), "median_start_months"] == pytest.approx(300 / MONTH)
    # OS from B's start: 200, 400 and 350 days (650 + 50 - 350), all deaths; PFS 60, 90, 120.
    assert t.loc[(2, "B"), "median_os_months"] == pytest.approx(350 / MONTH)
    assert t.loc[(2, "B"), "median_pfs_months"] == pytest.approx(90 / MONTH)
    # C's only patient is alive: its median is not reached.
    assert t.loc[(2, "C"), "median_os_months"] == math.inf


def test_by_line_names_the_accepted_arms():
    with pytest.raises(ValueError, match=r"arm = 'z' is not in the rows; accepted: x, y"):
        by_line(_line_rows(), "z")
