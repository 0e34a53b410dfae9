"""Calibration targets: the shipped file, tolerances from the studies' own precision, statistics."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gistsim.calibration.statistics import derive, evaluate
from gistsim.calibration.targets import Target, builtin_targets
from gistsim.trials.spec import load_trial


def test_builtin_targets_cover_the_issue_and_name_real_trials_and_arms():
    targets = builtin_targets()
    names = {t.name for t in targets}
    assert len(names) == len(targets) >= 40
    # One target at least per study family the issue lists.
    for key in ("eortc62005-400-CR", "s0033-400-median-PFS", "eortc62005-400-10y-OS", "s0033-exon9-ORR-800",
                "eortc62005-early-progression", "bfr14-1y-stop-progressed", "bfr14-3y-stop-2y-PFS",
                "zalcberg2005-median-PFS", "demetri2006-sunitinib-median-TTP", "grid-regorafenib-median-PFS",
                "invictus-ripretinib-median-PFS", "dematteo2007-focal-median-PFS", "imatinib-400-mean-trough",
                "liegl2008-secondary-share", "liegl2008-several-different"):  # fmt: skip
        assert key in names
    for t in targets:
        assert set(t.arms) <= {a.name for a in load_trial(t.trial).arms}


def test_tolerance_is_the_default_or_the_studys_wilson_interval_whichever_is_wider():
    t = Target(name="x", trial="bfr14-1y", arm="stop", statistic="proportion", column="c", values=[True],
               published=26 / 32, n=32, source="s")  # fmt: skip
    ci = stats.binomtest(26, 32).proportion_ci(method="wilson")
    assert t.tolerance == pytest.approx(max(26 / 32 - ci.low, ci.high - 26 / 32), rel=1e-4)  # z = 1.96 vs 1.95996
    big = t.model_copy(update={"n": 100_000})
    assert big.tolerance == 0.05


def test_tolerance_for_times_uses_the_reported_ci_or_fifteen_percent():
    t = Target(name="x", trial="later-lines", arm="full-sequence", statistic="median", endpoint="line3_ttp",
               unit="weeks", published=27.3, ci=(16.0, 32.1), source="s")  # fmt: skip
    assert t.tolerance == pytest.approx(27.3 - 16.0)
    assert t.model_copy(update={"ci": None}).tolerance == pytest.approx(0.15 * 27.3)
    assert t.tolerance_basis == "study 95% CI 16–32.1"


def test_tolerance_for_a_median_from_n_patients_is_its_log_scale_interval_where_wider():
    # S0033's 32 exon-9 patients: an exponential median's 95% interval is median x exp(+-1.96/sqrt(d)),
    # d events <= n patients; the band takes the upper half-width.
    t = Target(name="x", trial="first-line-imatinib", arm="imatinib-400", statistic="median", endpoint="os",
               published=38.4, n=32, source="s")  # fmt: skip
    assert t.tolerance == pytest.approx(38.4 * (np.exp(1.96 / np.sqrt(32)) - 1))
    assert t.tolerance > 0.15 * 38.4
    assert t.tolerance_basis == "study size n = 32"
    big = t.model_copy(update={"n": 400})
    assert big.tolerance == pytest.approx(0.15 * 38.4)
    assert big.tolerance_basis == "default, wider than study size n = 400's"


def test_target_needs_what_its_statistic_needs():
    with pytest.raises(ValueError, match="needs endpoint"):
        Target(name="x", trial="t", arm="a", statistic="median", published=1.0, source="s")
    with pytest.raises(ValueError, match="exactly one of values, at_least"):
        Target(name="x", trial="t", arm="a", statistic="proportion", column="c", published=0.5, source="s")


def _rows(n, rng, **extra):
    """Minimal result rows for the statistics (no lines beyond the first)."""
    days = rng.exponential(300.0, n)
    df = pd.DataFrame({
        "arm": "a", "patient_id": np.arange(n), "pfs_days": days, "pfs_event": True, "os_days": days * 2,
        "os_event": True, "time_origin_day": 0.0, "line1_ttp_days": days, "line1_ttp_event": True,
        "trough_ng_ml": rng.lognormal(7, 0.5, n), "secondary_at_progression": -1, "best_response": "SD",
        "events_json": "[]",
    })  # fmt: skip
    for k, v in extra.items():
        df[k] = v
    return df


def test_median_and_landmark_match_the_exponential_law_within_sampling_error():
    # alpha = 0.01 two-sided: |estimate - truth| < 2.58 standard errors (delta method).
    rng = np.random.default_rng(7)
    n = 4000
    df = derive(_rows(n, rng), 84.0)
    med = evaluate(df, Target(name="m", trial="t", arm="a", statistic="median", endpoint="pfs", unit="days",
                              published=0.0, source="s"))  # fmt: skip
    truth = 300 * math.log(2)
    assert abs(med.value - truth) < 2.58 * truth / math.sqrt(n)  # SE of the exponential median: m / sqrt(n)
    assert med.lo < med.value < med.hi
    s = evaluate(df, Target(name="s", trial="t", arm="a", statistic="survival_at", endpoint="os", at=600,
                            unit="days", published=0.0, source="s"))  # fmt: skip
    p = math.exp(-1.0)  # os = 2 * pfs: S(600) = exp(-600 / 600)
    assert abs(s.value - p) < 2.58 * math.sqrt(p * (1 - p) / n)
    q = evaluate(df, Target(name="q", trial="t", arm="a", statistic="progressed_by", endpoint="ttp", at=300,
                            unit="days", published=0.0, source="s"))  # fmt: skip
    assert abs(q.value - (1 - math.exp(-1))) < 2.58 * math.sqrt(p * (1 - p) / n)


def test_proportion_excludes_and_filters():
    rng = np.random.default_rng(1)
    df = _rows(10, rng, best_response=["CR", "PR", "PR", "SD", "PD", "NE", "NE", "SD", "SD", "PR"])
    df["driver"] = ["x"] * 5 + ["y"] * 5
    t = Target(name="p", trial="t", arm="a", statistic="proportion", column="best_response", values=["CR", "PR"],
               exclude=["NE"], published=0.5, source="s")  # fmt: skip
    assert evaluate(derive(df, 84.0), t).value == pytest.approx(4 / 8)
    only_y = t.model_copy(update={"where": {"driver": ["y"]}})
    assert evaluate(derive(df, 84.0), only_y).value == pytest.approx(1 / 3)


def test_status_at_surgery_and_rechallenge_from_the_events():
    rng = np.random.default_rng(2)
    events = [
        [[0, "line_start", "x"], [200, "residual_resection", ""], [200, "surgery", ""], [500, "progression", "x"]],
        [[0, "line_start", "x"], [300, "progression", "focal"], [300, "focal_progression", "liver 4"]],
        [[0, "line_start", "x"], [300, "progression", "focal"], [300, "focal_progression", "liver 1,liver 2"],
         [400, "progression", "x"]],
        [[0, "line_start", "x"], [420, "stop", "x"], [600, "progression", "off_drug"], [600, "restart", "x"]],
        [[0, "line_start", "x"], [420, "stop", "x"], [600, "progression", "off_drug"], [600, "restart", "x"],
         [684, "progression", "x"]],
    ]  # fmt: skip
    df = _rows(5, rng, events_json=[json.dumps(e) for e in events], os_days=1000.0, os_event=False)
    d = derive(df, 84.0)
    assert list(d.surgery_status) == ["responsive", "focal", "multifocal", "none", "none"]
    assert d.surgery_pfs_days[0] == 300 and d.surgery_pfs_event[0]
    assert d.surgery_pfs_days[1] == 700 and not d.surgery_pfs_event[1]
    assert d.surgery_pfs_days[2] == 100 and d.surgery_pfs_event[2]
    assert list(d.restarted) == [False, False, False, True, True]
    assert list(d.rechallenge_control) == [False, False, False, True, False]


def test_trough_quartiles_split_each_arm_in_four():
    rng = np.random.default_rng(3)
    d = derive(_rows(400, rng), 84.0)
    assert sorted(d.trough_quartile.value_counts().tolist()) == [100, 100, 100, 100]
    assert d.loc[d.trough_quartile == 1, "trough_ng_ml"].max() <= d.loc[d.trough_quartile == 2, "trough_ng_ml"].min()


def test_best_response_within_a_follow_up_counts_only_responses_read_in_time():
    from gistsim.calibration.statistics import best_response_within

    rows = pd.DataFrame({
        "best_response": ["CR", "CR", "CR", "PR", "PR", "SD", "PD"],
        "first_cr_day": [100.0, 900.0, 900.0, np.nan, np.nan, np.nan, np.nan],
        "first_pr_day": [50.0, 300.0, 800.0, 200.0, 800.0, np.nan, np.nan],
    })  # fmt: skip
    assert best_response_within(rows, 760.0).tolist() == ["CR", "PR", "SD", "PR", "SD", "SD", "PD"]
    assert best_response_within(rows, 1e9).tolist() == rows["best_response"].tolist()


def test_first_response_days_stop_at_the_first_progression():
    from gistsim.clinic.reading import CR, NE, PD, PR, SD
    from gistsim.trials.runner import first_response_days

    days = np.array([84.0, 168.0, 252.0, 336.0, 420.0])
    assert first_response_days(np.array([SD, PR, PR, CR, PD]), days, 0.0) == {"first_cr_day": 336.0, "first_pr_day": 168.0}
    late = first_response_days(np.array([NE, SD, PD, CR, CR]), days, 0.0)  # the CR after PD is another line's
    assert math.isnan(late["first_cr_day"]) and math.isnan(late["first_pr_day"])
    assert first_response_days(np.array([SD, PR, PR, CR, PD]), days, 100.0)["first_pr_day"] == 68.0


def test_follow_up_is_only_for_best_response_proportions():
    base = dict(name="x", trial="first-line-imatinib", arm="imatinib-400", published=0.5, source="s", n=10)
    Target(**base, statistic="proportion", column="best_response", values=["CR"], follow_up=25)
    with pytest.raises(ValueError, match="follow_up applies to a proportion of column best_response"):
        Target(**base, statistic="survival_at", endpoint="pfs", at=12, follow_up=25)


def test_pooled_arms_count_the_patients_of_every_arm_named():
    rng = np.random.default_rng(3)
    a = _rows(200, rng).assign(best_response="PR")
    b = _rows(600, rng).assign(arm="b", best_response="SD")
    df = pd.concat([a, b], ignore_index=True)
    one = Target(name="x", trial="t", arm="a", statistic="proportion", column="best_response", values=["PR"],
                 published=0.5, source="s")  # fmt: skip
    assert evaluate(df, one).value == 1.0
    pooled = one.model_copy(update={"arm": ["a", "b"]})
    assert pooled.arms == ["a", "b"]
    assert evaluate(df, pooled).value == pytest.approx(200 / 800)
    with pytest.raises(ValueError, match="a hazard ratio compares one arm"):
        Target(name="x", trial="t", arm=["a", "b"], statistic="hazard_ratio", endpoint="pfs", reference_arm="a",
               published=1.0, source="s")  # fmt: skip
