"""RECIST 1.1 response tables (Eisenhauer et al., Eur J Cancer 2009;45:228, Tables 1–3), best response."""

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from gistsim.clinic.recist import Lesion, Response, assess, best_overall_response

R = Response
NAN = np.nan


def read(lesions, sizes, **kw):
    return assess(lesions, [0.0, 56.0], sizes, **kw)


# --- Table 1 and 2: time-point response ----------------------------------------------------------

NON_PD = {"CR", "NON-CR/NON-PD", "NE"}
# Eisenhauer 2009, Table 1 (target disease), row by row: target, non-target, new lesions → overall.
TABLE_1 = [
    ("CR", {"CR"}, {False}, "CR"),
    ("CR", {"NON-CR/NON-PD"}, {False}, "PR"),
    ("CR", {"NE"}, {False}, "PR"),
    ("PR", NON_PD, {False}, "PR"),
    ("SD", NON_PD, {False}, "SD"),
    ("NE", NON_PD, {False}, "NE"),
    ("PD", NON_PD | {"PD"}, {False, True}, "PD"),
    ("*", {"PD"}, {False, True}, "PD"),
    ("*", NON_PD | {"PD"}, {True}, "PD"),
]
# Table 2 (non-target disease only).
TABLE_2 = [
    ("CR", {False}, "CR"),
    ("NON-CR/NON-PD", {False}, "NON-CR/NON-PD"),
    ("NE", {False}, "NE"),
    ("PD", {False, True}, "PD"),
    ("*", {True}, "PD"),
]
TARGET_MM = {"CR": 0.0, "PR": 30.0, "SD": 45.0, "PD": 65.0, "NE": NAN}  # baseline 50 mm
NON_TARGET_MM = {"CR": 0.0, "NON-CR/NON-PD": 8.0, "NE": NAN, "PD": 8.0}


def _visit(target, non_target, new):
    """Lesions and one follow-up visit whose components read as asked."""
    les = [Lesion("t", "liver"), Lesion("n", "peritoneum"), Lesion("x", "lung")]
    sizes = [[50.0, TARGET_MM.get(target, 50.0)], [8.0, NON_TARGET_MM[non_target]]]
    sizes.append([NAN, 6.0 if new else NAN])
    seen = np.array([[True, target != "NE"], [True, non_target != "NE"], [True, True]])
    if target == "none":
        les, sizes, seen = les[1:], sizes[1:], seen[1:]
    flag = [None, True] if non_target == "PD" else None
    return read(les, sizes, assessed=seen, non_target_pd=flag)[1]


@pytest.mark.parametrize(
    "target, non_target, new", list(itertools.product(TARGET_MM, NON_TARGET_MM, [False, True]))
)
def test_table_1_every_row(target, non_target, new):
    a = _visit(target, non_target, new)
    assert (a.target, a.non_target, bool(a.new_lesions)) == (target, non_target, new)
    rows = [r[3] for r in TABLE_1 if r[0] in (target, "*") and non_target in r[1] and new in r[2]]
    assert rows and len(set(rows)) == 1  # the table covers the case, without contradiction
    assert a.response == rows[0]


@pytest.mark.parametrize("non_target, new", list(itertools.product(NON_TARGET_MM, [False, True])))
def test_table_2_every_row(non_target, new):
    a = _visit("none", non_target, new)
    assert a.target == R.NA and a.non_target == non_target
    rows = [r[2] for r in TABLE_2 if r[0] in (non_target, "*") and new in r[1]]
    assert rows and len(set(rows)) == 1
    assert a.response == rows[0]


# --- best overall response (Table 3) and time to progression -------------------------------------


def seq(*pairs, baseline_target=R.BASELINE):
    """Assessment stand-ins: a baseline at day 0, then (day, response) pairs."""
    head = SimpleNamespace(day=0.0, response=R.BASELINE, target=baseline_target)
    return [head] + [SimpleNamespace(day=float(d), response=R(r)) for d, r in pairs]


# Eisenhauer 2009, Table 3 (confirmation required): first, subsequent (≥ 4 weeks later) → best
# response when the minimum SD duration is met, and when it is not (None: the table says nothing).
TABLE_3 = [
    ("CR", "CR", "CR", "CR"),
    ("CR", "PR", "PR", "PR"),  # "SD, PD or PR": we take the footnote's reading, the CR was a PR
    ("CR", "SD", "SD", "PD"),
    ("CR", "PD", "SD", "PD"),
    ("CR", "NE", "SD", "NE"),
    ("PR", "CR", "PR", "PR"),
    ("PR", "PR", "PR", "PR"),
    ("PR", "SD", "SD", None),
    ("PR", "PD", "SD", "PD"),
    ("PR", "NE", "SD", "NE"),
    ("NE", "NE", "NE", "NE"),
]


@pytest.mark.parametrize("first, then, met, not_met", TABLE_3)
def test_table_3_every_row(first, then, met, not_met):
    visits = seq((56, first), (112, then))
    assert best_overall_response(visits, confirm=True, min_sd_days=42) == met
    if not_met is not None:
        assert best_overall_response(visits, confirm=True, min_sd_days=365) == not_met


def test_confirmation_needs_4_weeks():
    early = seq((56, "PR"), (70, "PR"), (84, "NE"))
    assert best_overall_response(early) == R.PR
    assert best_overall_response(early, confirm=True) == R.SD
    assert best_overall_response(seq((56, "PR"), (84, "PR")), confirm=True) == R.PR
    assert best_overall_response(seq((56, "PR"), (70, "NE"), (84, "PR")), confirm=True) == R.PR
    assert best_overall_response(seq((56, "CR"), (84, "PR")), confirm=True) == R.PR


def test_stable_disease_needs_a_minimum_duration():
    assert best_overall_response(seq((28, "SD"), (56, "PD")), min_sd_days=42) == R.PD
    assert best_overall_response(seq((28, "SD"), (56, "NE")), min_sd_days=42) == R.NE
    assert best_overall_response(seq((28, "SD"), (84, "SD")), min_sd_days=42) == R.SD
    assert best_overall_response(seq((42, "SD")), min_sd_days=42) == R.SD
    assert best_overall_response(seq((28, "SD")), min_sd_days=42, start_day=-14) == R.SD


def test_best_response_stops_at_the_first_progression():
    assert best_overall_response(seq((56, "PD"), (112, "PR"))) == R.PD
    assert best_overall_response(seq((56, "SD"), (112, "PD"), (168, "CR"))) == R.SD


def test_best_response_without_targets_is_non_cr_non_pd():
    visits = seq((56, "NON-CR/NON-PD"), (112, "NON-CR/NON-PD"), baseline_target=R.NA)
    assert best_overall_response(visits) == R.NON_CR_NON_PD
