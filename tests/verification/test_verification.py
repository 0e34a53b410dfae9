"""The statistical verification suite at level "quick" (``make test``).

One test per check; the full level runs only through ``python -m gistsim.verification --level full``.
The last tests show that the machinery can fail: a deliberately wrong model must be rejected.
"""

from __future__ import annotations

import numpy as np
import pytest

from gistsim.verification import ALPHA, CHECKS, DEFAULT_SEED, run_check
from gistsim.verification.checks_birth_death import check_distribution
from gistsim.verification.checks_normal import check_normal_limit
from gistsim.verification.stats import MIN_EXPECTED, _merge_bins, chi2_goodness_of_fit, chi2_two_sample


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_passes_at_quick_level(name: str) -> None:
    verdict = run_check(name, "quick", DEFAULT_SEED)
    print(verdict.report())
    assert verdict.passed, verdict.report()


def test_wrong_birth_rate_in_reference_is_rejected() -> None:
    """Check 3's machinery with the reference's birth rate 20% too high must reject, and the
    rejection must come from the engine-vs-reference and reference-vs-pmf comparisons only."""
    verdict = check_distribution("quick", DEFAULT_SEED, reference_birth_scale=1.2)
    print(verdict.report())
    assert not verdict.passed
    k = len(verdict.subtests)
    for sub in verdict.subtests:
        wrong_side = "reference" in sub.label
        assert (sub.p_value < ALPHA / k) == wrong_side, sub


def test_normal_limit_far_below_threshold_is_rejected() -> None:
    """With 20 cells the normal limit is plainly wrong; the KS machinery of check 7 must see it."""
    verdict = check_normal_limit("quick", DEFAULT_SEED, n_override=20)
    print(verdict.report())
    assert not verdict.passed


def test_merged_bins_reach_the_minimum() -> None:
    weights = np.array([0.5, 3.0, 9.0, 1.0, 1.0, 1.0, 0.2, 4.0, 0.1])
    bins = _merge_bins(weights, MIN_EXPECTED)
    totals = np.bincount(bins, weights=weights)
    assert (totals >= MIN_EXPECTED).all()
    assert (np.diff(bins) >= 0).all()  # bins are runs of consecutive values


def test_chi2_helpers_detect_a_shift_and_accept_equal_laws() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.poisson(10.0, 5000), rng.poisson(10.0, 3000)
    assert chi2_two_sample(a, b)[2] > 1e-3
    assert chi2_two_sample(a, rng.poisson(11.0, 3000))[2] < 1e-6
    from scipy import stats

    pmf = stats.poisson.pmf(np.arange(60), 10.0)
    assert chi2_goodness_of_fit(a, pmf)[2] > 1e-3
    assert chi2_goodness_of_fit(rng.poisson(10.5, 5000), pmf)[2] < 1e-6
