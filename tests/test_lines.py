"""A trial arm by line of therapy (gistsim.trials.lines), on rows whose answers are known by construction."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from gistsim.trials.lines import by_line, lines_table_html

YEAR = 365.25


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


def test_the_html_table_shows_each_line_and_a_median_not_reached():
    page = lines_table_html(by_line(_line_rows(), "x"))
    assert page.count("<tr>") == 1 + 3  # the header and lines A, B, C
    assert "<td>B</td>" in page and "not reached" in page and "<td>75%</td>" in page
