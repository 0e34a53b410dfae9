"""RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228): every rule and its edges.

The response tables (1–3) are checked row by row in ``test_recist_tables.py``.
"""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gistsim.clinic.recist import (
    Assessment,
    Lesion,
    Response,
    assess,
    best_overall_response,
    first_pd_day,
    select_targets,
)

R = Response
NAN = np.nan


def read(lesions, sizes, days=None, **kw):
    n_visits = len(sizes[0]) if len(sizes) else len(days)
    return assess(lesions, days if days is not None else [56.0 * v for v in range(n_visits)], sizes, **kw)


def overall(res):
    return [a.response for a in res[1:]]


def liver(i="a"):
    return Lesion(i, "liver")


# --- baseline: measurability and target selection -------------------------------------------------


def test_measurability_thresholds():
    organs = ["liver", "lung", "lymph_node", "lymph_node", "lymph_node", "lymph_node", "bone"]
    nodal = [o == "lymph_node" for o in organs]
    base = [9.9, 10.0, 14.9, 15.0, 10.0, 9.9, 30.0]
    targets, non_targets = select_targets(base, organs, nodal, measurable=[True] * 6 + [False])
    # 9.9 mm lesion: non-measurable, non-target; 10 mm: target. Nodes: 15 target, 10–<15 non-target,
    # < 10 normal (in neither list). A lesion RECIST cannot measure (blastic bone) is a non-target.
    assert targets == [1, 3]
    assert non_targets == [0, 2, 4, 6]


def test_two_per_organ_and_five_in_total():
    organs = ["liver"] * 3 + ["lung"] * 3 + ["peritoneum"] * 2
    base = [50, 40, 30, 45, 35, 25, 20, 15]
    targets, non_targets = select_targets(base, organs, [False] * 8)
    assert targets == [0, 1, 3, 4, 6]  # liver 50, 40; lung 45, 35; peritoneum 20
    assert non_targets == [2, 5, 7]


def test_five_in_total_across_many_organs():
    organs = ["liver", "lung", "peritoneum", "bone", "spleen", "adrenal", "kidney"]
    base = [10, 20, 30, 40, 50, 60, 70]
    targets, non_targets = select_targets(base, organs, [False] * 7)
    assert targets == [2, 3, 4, 5, 6]
    assert non_targets == [0, 1]


def test_all_lymph_nodes_are_one_organ():
    targets, non_targets = select_targets([20, 18, 16], ["lymph_node"] * 3, [True] * 3)
    assert targets == [0, 1] and non_targets == [2]


def test_ties_are_broken_by_input_order():
    targets, non_targets = select_targets([30, 30, 30], ["liver"] * 3, [False] * 3)
    assert targets == [0, 1] and non_targets == [2]


def test_representative_selection_gives_every_organ_a_target_first():
    organs = ["liver", "liver", "peritoneum", "peritoneum", "bone", "lung"]
    base = [50, 45, 40, 35, 30, 12]
    assert select_targets(base, organs, [False] * 6)[0] == [0, 1, 2, 3, 4]
    assert select_targets(base, organs, [False] * 6, representative=True)[0] == [0, 1, 2, 4, 5]


def test_too_small_at_baseline_is_a_non_target():
    targets, non_targets = select_targets([NAN, 20], ["liver"] * 2, [False] * 2, too_small=[True, False])
    assert targets == [1] and non_targets == [0]


def test_reader_may_choose_the_targets():
    les = [liver("a"), liver("b"), Lesion("p", "peritoneum")]
    res = read(les, [[50, 50], [40, 40], [20, 20]], targets=["b", "p"])
    assert res[0].sum_mm == 60
    assert res[1].non_target == R.NON_CR_NON_PD  # "a" became a non-target


# --- target response ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base, follow, expected",
    [
        ([100.0], [70.0], R.PR),  # exactly −30%
        ([100.0], [70.1], R.SD),  # −29.9%
        ([20.3, 10.0], [10.61, 10.6], R.PR),  # exactly −30% on numbers with rounding error
        ([20.3, 10.0], [10.62, 10.6], R.SD),
    ],
)
def test_partial_response_threshold(base, follow, expected):
    les = [liver(str(i)) for i in range(len(base))]
    assert overall(read(les, [[b, f] for b, f in zip(base, follow)])) == [expected]


@pytest.mark.parametrize(
    "series, expected",
    [
        ([20, 20, 24], R.SD),  # +20% over the nadir but only +4 mm
        ([25, 25, 30], R.PD),  # +20% and +5 mm
        ([50, 50, 55], R.SD),  # +5 mm but only +10%
        ([25, 25, 29.9], R.SD),
    ],
)
def test_progression_needs_20_percent_and_5_mm(series, expected):
    assert overall(read([liver()], [series]))[-1] == expected


def test_progression_on_fractional_sums():
    les = [liver("a"), liver("b"), Lesion("c", "lung")]
    res = read(les, [[20, 8.1, 9.8], [20, 8.2, 9.8], [20, 8.2, 9.8]])  # nadir 24.5 → 29.4: +20%, +4.9 mm
    assert res[2].target == R.PR  # not PD (and still −51% from baseline)
    res = read(les, [[20, 8.1, 10.0], [20, 8.2, 9.8], [20, 8.2, 9.8]])  # 24.5 → 29.6: +20.8%, +5.1 mm
    assert res[2].target == R.PD


def test_progression_is_measured_against_the_nadir_not_the_baseline():
    res = read([liver()], [[100, 50, 61]])
    assert [a.target for a in res[1:]] == [R.PR, R.PD]
    assert res[2].change_from_baseline == pytest.approx(-0.39)  # still a PR relative to baseline
    assert res[2].nadir_mm == 50 and res[2].change_from_nadir == pytest.approx(0.22)


def test_nadir_includes_baseline_and_is_the_smallest_earlier_sum():
    res = read([liver()], [[40, 45, 44, 47, 48]])
    assert [a.nadir_mm for a in res] == [40, 40, 40, 40, 40]
    assert overall(res) == [R.SD, R.SD, R.SD, R.PD]


def test_complete_response_with_nodes_shrinking_below_10_mm():
    les = [liver(), Lesion("n", "lymph_node")]
    res = read(les, [[20, 0, 0], [18, 9.9, 10.0]])
    assert res[1].target == R.CR and res[1].response == R.CR
    assert res[1].sum_mm == pytest.approx(9.9)  # the nodes' short axes stay in the sum
    assert res[2].target == R.PD  # a node of 10 mm is pathological again: reappearance after a CR
    res = read(les, [[20, 5, 0], [18, 12, 10.0]])
    assert [a.target for a in res[1:]] == [R.PR, R.PR]  # without an earlier CR, 10 mm is just not CR


def test_too_small_counts_5_mm_and_is_not_a_complete_response():
    small = np.array([[False, True]])
    res = read([liver()], [[20, NAN]], too_small=small)
    assert res[1].sum_mm == 5.0 and res[1].target == R.PR


def test_a_target_not_assessed_makes_the_visit_not_evaluable():
    les = [liver("a"), liver("b")]
    seen = np.array([[True, True], [True, False]])
    res = read(les, [[30, 10], [20, NAN]], assessed=seen)
    assert res[1].target == R.NE and res[1].response == R.NE and res[1].sum_mm is None


def test_missing_target_still_progression_when_the_others_suffice():
    # Eisenhauer 2009, "Missing assessments": baseline sum 50 mm over 3 lesions, 2 assessed at 80 mm → PD.
    les = [liver("a"), liver("b"), Lesion("c", "lung")]
    seen = np.array([[True, True], [True, True], [True, False]])
    res = read(les, [[20, 45], [15, 35], [15, NAN]], assessed=seen)
    assert res[1].target == R.PD and res[1].response == R.PD


def test_not_evaluable_visit_does_not_move_the_nadir():
    seen = np.array([[True, True, False, True]])
    res = read([liver()], [[40, 30, NAN, 36]], assessed=seen)
    assert res[3].nadir_mm == 30 and res[3].target == R.PD  # +6 mm, +20% over 30


def test_reappearance_after_complete_response_is_progression():
    res = read([liver()], [[20, 0, 3]])  # 3 mm: below the 5 mm rule, but the CR was real
    assert overall(res) == [R.CR, R.PD]


def test_reappearance_after_partial_response_adds_to_the_sum():
    res = read([liver("a"), liver("b")], [[30, 0, 4], [30, 15, 15]])
    assert overall(res) == [R.PR, R.PR]  # 15 → 19 mm: +4 mm is not PD


# --- non-targets, new lesions ---------------------------------------------------------------------


def test_non_target_statuses():
    les = [liver(), Lesion("p", "peritoneum"), Lesion("n", "lymph_node")]
    res = read(les, [[30, 20, 20], [8, 0, 0], [12, 9, 11]])
    assert res[1].non_target == R.CR  # peritoneal lesion gone, node < 10 mm
    assert res[2].non_target == R.NON_CR_NON_PD


def test_non_target_progression_flag_and_rule():
    les = [Lesion("p", "peritoneum", measurable=False)]
    # Non-target-only disease: the rule is the target rule (+20% and +5 mm over the nadir).
    assert [a.non_target for a in read(les, [[20, 24, 25]])[1:]] == [R.NON_CR_NON_PD, R.PD]
    assert overall(read(les, [[20, 20]], non_target_pd=[None, True])) == [R.PD]
    assert overall(read(les, [[20, 40]], non_target_pd=[None, False])) == [R.NON_CR_NON_PD]
    assert overall(read(les, [[20, 40]], non_target_rule=False)) == [R.NON_CR_NON_PD]


def test_non_target_rule_with_measurable_disease_weighs_the_whole_burden():
    les = [liver(), Lesion("p", "peritoneum", measurable=False)]
    # Burden nadir 100 + 20 = 120: non-targets must grow ≥ 24 mm, not just 20%.
    assert [a.non_target for a in read(les, [[100, 100, 100], [20, 30, 44]])[1:]] == [R.NON_CR_NON_PD, R.PD]


def test_non_target_reappearance_after_complete_response_is_progression():
    res = read([liver(), Lesion("p", "peritoneum")], [[20, 0, 0], [8, 0, 6]])
    assert overall(res) == [R.CR, R.PD] and res[2].non_target == R.PD


def test_new_lesion_is_progression_whatever_the_sums():
    res = read([liver(), Lesion("x", "lung")], [[50, 10], [NAN, 4]])
    assert res[1].target == R.PR and res[1].new_lesions == ("x",) and res[1].response == R.PD
    assert first_pd_day(res) == 56.0


def test_new_lymph_node_needs_10_mm_short_axis():
    les = [liver(), Lesion("n", "lymph_node"), Lesion("m", "lymph_node")]
    res = read(les, [[50, 50, 50], [NAN, 9.9, 10.0], [8, 8, 12]])  # m: normal at baseline, then 12
    assert res[1].new_lesions == ()
    assert res[2].new_lesions == ("n", "m") and res[2].response == R.PD


def test_lesion_in_a_region_not_scanned_at_baseline_is_new():
    seen = np.array([[True, True], [False, True]])
    res = read([liver(), Lesion("x", "bone")], [[50, 50], [NAN, 12]], assessed=seen)
    assert res[1].new_lesions == ("x",) and res[1].response == R.PD


def test_no_disease_at_baseline():
    res = read([liver()], [[NAN, 0, 7]])
    assert overall(res) == [R.NED, R.PD]
    assert best_overall_response(res[:2]) == R.NED and best_overall_response(res) == R.PD


def test_first_pd_day_and_real_assessments():
    res = read([liver()], [[50, 30, 30, 40]])
    assert all(isinstance(a, Assessment) for a in res)
    assert overall(res) == [R.PR, R.PR, R.PD]
    assert first_pd_day(res) == 168.0
    assert best_overall_response(res, confirm=True) == R.PR
    assert first_pd_day(res[:3]) is None


# --- properties and speed --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_reading_is_causal_and_ignores_lesion_order(data):
    n_les = data.draw(st.integers(1, 7))
    n_vis = data.draw(st.integers(2, 6))
    organ = st.sampled_from(["liver", "lung", "peritoneum"])
    organs = data.draw(st.lists(organ, min_size=n_les, max_size=n_les))
    base = data.draw(st.lists(st.integers(1, 60), min_size=n_les, max_size=n_les, unique=True))
    later = st.sampled_from([0.0, NAN, 4.0, 12.5, 30.0, 55.0])
    rest = data.draw(st.lists(later, min_size=n_les * (n_vis - 1), max_size=n_les * (n_vis - 1)))
    sizes = np.column_stack([np.array(base, float), np.array(rest).reshape(n_les, n_vis - 1)])
    les = [Lesion(f"l{i}", o) for i, o in enumerate(organs)]
    res = read(les, sizes)
    perm = data.draw(st.permutations(range(n_les)))
    assert overall(read([les[i] for i in perm], sizes[perm])) == overall(res)
    assert overall(read(les, sizes[:, :-1])) == overall(res)[:-1]


def test_twenty_lesions_forty_visits_under_two_milliseconds():
    rng = np.random.default_rng(1)
    les = [Lesion(f"l{i}", ["liver", "peritoneum", "lung", "bone"][i % 4]) for i in range(20)]
    sizes = rng.uniform(5, 60, (20, 40))
    sizes[rng.random((20, 40)) < 0.1] = NAN
    days = np.arange(40) * 84.0
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        assess(les, days, sizes)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 2e-3


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: read([liver()], [[10, -3.0]]), r"diameters_mm\[0, 1\] = -3.0 .*>= 0 mm"),
        (lambda: read([liver()], [[10, np.inf]]), r"diameters_mm\[0, 1\] = inf"),
        (lambda: Lesion("a", "Liver"), r"organ = 'Liver' is not known; accepted values: 'liver'"),
        (lambda: Lesion("a", "liver", nodal=True), r"nodal = True with organ = 'liver'"),
        (lambda: Lesion("", "liver"), r"Lesion.id = ''"),
        (lambda: assess([liver(), liver("b")], [0, 56, 112], [[10, 10], [10, 10]]),
         r"diameters_mm has shape \(2, 2\); expected \(2, 3\)"),
        (lambda: assess([liver()], [0, 56, 56], [[10, 10, 10]]), r"days = \[0.0, 56.0, 56.0\]"),
        (lambda: read([liver(), liver()], [[10, 10], [10, 10]]), r"lesion id 'a' appears 2 times"),
        (lambda: read([liver()], [[10, 3]], too_small=np.array([[False, True]])),
         r"too_small\[0, 1\] is True but diameters_mm\[0, 1\] = 3.0"),
        (lambda: read([liver()], [[10, 3]], assessed=np.array([[1, 1]])), r"assessed has dtype int"),
        (lambda: read([liver()], [[10, 3]], non_target_pd=[None]), r"non_target_pd has length 1; expected 2"),
        (lambda: read([liver()], [[10, 3]], non_target_pd=[None, "yes"]), r"non_target_pd\[1\] = 'yes'"),
        (lambda: read([liver()], [[10, 3]], non_target_pd=[True, None]), r"non_target_pd\[0\] = True"),
        (lambda: read([liver()], [[10, 3]], targets=["z"]), r"targets\[0\] = 'z' is not known"),
        (lambda: read([liver()], [[9, 3]], targets=["a"]), r"targets\[0\] = 'a' is not measurable"),
        (lambda: read([liver(i) for i in "abc"], [[20, 1]] * 3, targets=["a", "b", "c"]), r"2 per organ"),
        (lambda: select_targets([10, 20], ["liver"], [False, False]), r"organs has length 1; expected 2"),
        (lambda: select_targets([10, 20], ["liver", "lung"], [False]), r"nodal has shape \(1,\); expected"),
        (lambda: select_targets([10, 20], ["liver", "Lung"], [False, False]), r"organs\[1\] = 'Lung'"),
        (lambda: best_overall_response([]), r"assessments is empty"),
        (lambda: read([liver()], [[10, 3]], new_node_min_mm=-1), r"new_node_min_mm = -1.0"),
    ],
)
def test_bad_input_names_field_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()
