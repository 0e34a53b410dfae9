"""Choi criteria (Choi et al., J Clin Oncol 2007;25:1753) and modified Choi: every rule and its edges."""

import numpy as np
import pytest

from gistsim.clinic.choi import assess_choi
from gistsim.clinic.recist import Lesion, Response, assess, best_overall_response, first_pd_day

R = Response
NAN = np.nan


def choi(lesions, sizes, hu, **kw):
    days = [56.0 * v for v in range(len(sizes[0]))]
    return assess_choi(lesions, days, sizes, hu, **kw)


def one(size_then, hu_then, size0=100.0, hu0=100.0, **kw):
    """One 100 mm, 100 HU liver target and its reading at one follow-up visit."""
    return choi([Lesion("a", "liver")], [[size0, size_then]], [[hu0, hu_then]], **kw)[1]


@pytest.mark.parametrize(
    "size, hu, expected",
    [
        (90.0, 100.0, R.PR),  # −10% size alone
        (90.1, 100.0, R.SD),  # −9.9%
        (100.0, 85.0, R.PR),  # −15% density with unchanged size
        (100.0, 85.1, R.SD),  # −14.9%
        (110.0, 85.0, R.PR),  # +10% size, density −15%: not PD, and PR by attenuation
        (110.0, 90.0, R.PD),  # +10% size, density only −10%
        (109.9, 100.0, R.SD),
        (0.0, NAN, R.CR),  # every lesion gone
    ],
)
def test_choi_rules(size, hu, expected):
    a = one(size, hu)
    assert a.response == expected and a.target == expected


@pytest.mark.parametrize(
    "size, hu, expected",
    [(90.0, 100.0, R.SD), (100.0, 85.0, R.SD), (90.0, 85.0, R.PR), (110.0, 85.0, R.SD), (110.0, 90.0, R.PD)],
)
def test_modified_choi_needs_both_size_and_density(size, hu, expected):
    assert one(size, hu, modified=True).response == expected


def test_changes_are_reported():
    a = one(90.0, 80.0)
    assert a.size_mm == 90.0 and a.size_change == pytest.approx(-0.10)
    assert a.density_hu == 80.0 and a.density_change == pytest.approx(-0.20)


def test_progression_against_the_nadir_or_the_baseline():
    les, sizes, hu = [Lesion("a", "liver")], [[100, 80, 90]], [[100, 100, 100]]
    res = choi(les, sizes, hu)  # 80 → 90: +12.5% over the nadir, −10% from baseline
    assert [a.response for a in res[1:]] == [R.PR, R.PD]
    assert res[2].size_change_from_reference == pytest.approx(0.125)
    assert choi(les, sizes, hu, pd_reference="baseline")[2].response == R.PR


def test_new_lesion_and_intratumoral_nodule_are_progression():
    les = [Lesion("a", "liver"), Lesion("x", "lung")]
    res = choi(les, [[100, 60], [NAN, 4]], [[100, 50], [NAN, 60]])
    assert res[1].target == R.PR and res[1].new_lesions == ("x",) and res[1].response == R.PD
    res = choi(les[:1], [[100, 60]], [[100, 50]], intratumoral_nodule=[False, True])
    assert res[1].intratumoral_nodule and res[1].response == R.PD
    assert first_pd_day(res) == 56.0


def test_non_target_progression_blocks_partial_response():
    les = [Lesion("a", "liver"), Lesion("p", "peritoneum", measurable=False)]
    res = choi(les, [[100, 80], [8, 8]], [[100, 100], [NAN, NAN]], non_target_pd=[None, True])
    assert res[1].target == R.PR and res[1].non_target == R.PD and res[1].response == R.SD


def test_complete_response_needs_non_targets_gone_too():
    les = [Lesion("a", "liver"), Lesion("p", "peritoneum", measurable=False)]
    res = choi(les, [[30, 0, 0], [8, 8, 0]], [[100, NAN, NAN], [NAN, NAN, NAN]])
    assert [a.response for a in res[1:]] == [R.PR, R.CR]


def test_reappearance_after_complete_response_is_progression():
    res = choi([Lesion("a", "liver")], [[30, 0, 2]], [[100, NAN, 40]])
    assert [a.response for a in res[1:]] == [R.CR, R.PD]
    les = [Lesion("a", "liver"), Lesion("p", "peritoneum", measurable=False)]
    res = choi(les, [[30, 0, 0], [8, 0, 3]], [[100, NAN, NAN], [NAN, NAN, NAN]])
    assert [a.response for a in res[1:]] == [R.CR, R.PD]  # a non-target back


def test_missing_target_is_not_evaluable_unless_already_progressing():
    les = [Lesion("a", "liver"), Lesion("b", "lung")]
    seen = np.array([[True, True, True], [True, False, False]])
    res = choi(les, [[50, 45, 125], [50, NAN, NAN]], [[100, 80, 80], [100, NAN, NAN]], assessed=seen)
    assert [a.response for a in res[1:]] == [R.NE, R.PD]


def test_density_is_the_mean_over_present_targets_and_needs_all_of_them():
    les = [Lesion("a", "liver"), Lesion("b", "lung")]
    res = choi(les, [[50, 50, 50], [50, 50, 50]], [[100, 60, NAN], [80, 60, 60]])
    assert res[0].density_hu == 90.0
    assert res[1].density_hu == 60.0 and res[1].response == R.PR
    assert res[2].density_hu is None and res[2].density_change is None  # a has no HU
    assert res[2].response == R.SD  # size alone decides: unchanged
    res = choi(les, [[50, 0], [50, 50]], [[100, NAN], [80, 60]])
    assert res[1].density_hu == 60.0  # lesion a is gone: no tissue, no attenuation


def test_uses_the_recist_targets():
    les = [Lesion(i, "liver") for i in "abc"]
    sizes = [[50, 50], [40, 40], [30, 10]]  # c (the smallest liver lesion) is a non-target
    res = choi(les, sizes, [[100, 100]] * 3)
    assert res[0].size_mm == assess(les, [0, 56], sizes)[0].sum_mm == 90
    assert res[1].response == R.SD


def test_without_targets_falls_back_to_recist_non_target_disease():
    les = [Lesion("p", "peritoneum", measurable=False)]
    res = choi(les, [[8, 8, 0]], [[NAN, NAN, NAN]])
    assert [a.response for a in res[1:]] == [R.NON_CR_NON_PD, R.CR] and res[1].target == R.NA


def test_best_overall_response_on_choi_readings():
    res = choi([Lesion("a", "liver")], [[100, 100, 100, 115]], [[100, 80, 80, 95]])
    assert [a.response for a in res[1:]] == [R.PR, R.PR, R.PD]
    assert best_overall_response(res, confirm=True) == R.PR


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(hu=[[100, np.inf]]), r"hu\[0, 1\] = inf is not accepted.*HU"),
        (dict(hu=[[100, 5000]]), r"hu\[0, 1\] = 5000.0 is not accepted"),
        (dict(hu=[[100, 90, 80]]), r"hu has shape \(1, 3\); expected \(1, 2\)"),
        (dict(sizes=[[100, -1]]), r"diameters_mm\[0, 1\] = -1.0"),
        (dict(pd_reference="peak"), r"pd_reference = 'peak' is not known; accepted values: 'nadir'"),
        (dict(intratumoral_nodule=[False]), r"intratumoral_nodule has length 1; expected 2"),
    ],
)
def test_bad_input_names_field_and_value(kw, message):
    args = dict(sizes=[[100, 90]], hu=[[100, 90]])
    args.update(kw)
    sizes, hu = args.pop("sizes"), args.pop("hu")
    with pytest.raises(ValueError, match=message):
        choi([Lesion("a", "liver")], sizes, hu, **args)
