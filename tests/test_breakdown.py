"""The validation report's breakdown by driver, on rows whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gistsim.calibration.breakdown import by_driver, kaplan_meier_by_driver

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

