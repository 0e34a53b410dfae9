"""The single-cell law: closed forms, composition, and the two exact sampling paths."""

import numpy as np
import pytest
from scipy import stats

from gistsim.engine import kendall
from gistsim.streams import Draws


def two_sample_chi2_p(a, b):
    """p-value of a χ² test that two integer samples share one law (20 pooled-quantile bins)."""
    edges = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0, 1, 21)))
    edges[-1] += 1
    ca, _ = np.histogram(a, edges)
    cb, _ = np.histogram(b, edges)
    keep = (ca + cb) > 0
    return stats.chi2_contingency(np.vstack([ca[keep], cb[keep]]))[1]


def kendall_1948(b, d, t):
    """Kendall's textbook form: P(extinct) = d(e^{rt}-1)/(b e^{rt}-d), β = b(e^{rt}-1)/(b e^{rt}-d)."""
    e = np.exp((b - d) * t)
    return d * (e - 1) / (b * e - d), b * (e - 1) / (b * e - d)


@pytest.mark.parametrize("b,d", [(0.04, 0.06), (0.06, 0.04), (0.1, 0.0), (0.0, 0.1), (0.05, 0.0499999)])
def test_constant_rates_match_kendall(b, d):
    t = 84.0
    m, h = kendall.compose_mh(np.array([t]), np.array([[b]]), np.array([[d]]))
    alpha, beta = kendall_1948(b, d, t)
    assert 1 - kendall.survival_probability(m, h)[0] == pytest.approx(alpha, rel=1e-6, abs=1e-12)
    assert h[0] / (1 + h[0]) == pytest.approx(beta, rel=1e-6, abs=1e-12)
    assert m[0] == pytest.approx(np.exp((b - d) * t))


def test_critical_limit_is_continuous():
    t, b = 50.0, 0.05
    m, h = kendall.compose_mh(np.array([t]), np.array([[b]]), np.array([[b]]))
    assert 1 - kendall.survival_probability(m, h)[0] == pytest.approx(b * t / (1 + b * t), rel=1e-12)
    assert kendall.phi(np.array(1e-13), np.array(t)) == pytest.approx(t)


def test_splitting_a_piece_changes_nothing():
    b, d = np.array([[0.05, 0.02]]), np.array([[0.03, 0.09]])
    m1, h1 = kendall.compose_mh(np.array([60.0]), b, d)
    m2, h2 = kendall.compose_mh(np.array([25.0, 35.0]), np.vstack([b, b]), np.vstack([d, d]))
    np.testing.assert_allclose(m1, m2, rtol=1e-12)
    np.testing.assert_allclose(h1, h2, rtol=1e-12)


def test_moments_match_closed_form_variance():
    b, d, t, n = 0.05, 0.03, 40.0, 7
    m, h = kendall.compose_mh(np.array([t]), np.array([[b]]), np.array([[d]]))
    mean, var = kendall.mean_variance(n, m, h)
    r = b - d
    assert mean[0] == pytest.approx(n * np.exp(r * t))
    assert var[0] == pytest.approx(n * (b + d) / r * np.exp(r * t) * (np.exp(r * t) - 1))


def test_zero_rates_and_zero_cells():
    rng = np.random.default_rng(0)
    m, h = np.ones(3), np.zeros(3)
    n = np.array([0, 5, 10**12])
    np.testing.assert_array_equal(kendall.sample_total(rng, n, m, h), n)


def test_normal_limit_only_where_the_error_estimate_allows():
    n = np.array([10, 10**2, 10**4, 10**9])
    m, h = kendall.compose_mh(np.array([84.0]), np.full((1, 4), 0.04), np.full((1, 4), 0.035))
    use = kendall.use_normal_limit(n, m, h)
    err = kendall.normal_limit_error(n, m, h)
    np.testing.assert_array_equal(use, err <= kendall.NORMAL_LIMIT_MAX_KOLMOGOROV)
    assert not use[0] and use[-1]


def test_cumulants_match_moments_and_vanish_for_point_masses():
    m, h = np.array([0.015, 1.52, 1.0, 0.0]), np.array([0.788, 4.17, 0.0, 0.3])
    mean, var, third = kendall.single_cell_moments(m, h)
    k1, k2, k3, k4 = kendall.total_cumulants(np.ones(4), m, h)
    np.testing.assert_allclose(k1, mean, rtol=1e-12)
    np.testing.assert_allclose(k2, var, rtol=1e-12)
    np.testing.assert_allclose(k3, third - 3 * mean * var - mean**3, rtol=1e-10)
    # m = 1, H = 0 (no events) and m = 0 (certain death) are point masses.
    assert (k2[2:] == 0).all() and (k3[2:] == 0).all() and (k4[2:] == 0).all()
    assert kendall.use_normal_limit(np.array([5, 5]), m[2:], h[2:]).all()


@pytest.mark.parametrize(("m", "h"), [(0.015, 0.788), (1.52, 4.17), (0.99 * 1.0001, 1e-4)])
def test_exact_distance_at_threshold_is_within_and_ten_times_below_is_not(m, h):
    """The engine's error estimate against the exact law (textbook pgf, FFT): ≤ ε at the
    threshold n*, and it is not vacuous: at n*/10 the exact distance exceeds ε."""
    from gistsim.verification.checks_normal import exact_distance, rates_for, threshold_n

    durations, b, d = rates_for(m, h)
    mm, hh = kendall.compose_mh(np.asarray(durations), np.asarray(b)[:, None], np.asarray(d)[:, None])
    n_star = threshold_n(mm, hh)
    assert exact_distance(n_star, durations, b, d) <= kendall.NORMAL_LIMIT_MAX_KOLMOGOROV
    assert exact_distance(max(n_star // 10, 1), durations, b, d) > kendall.NORMAL_LIMIT_MAX_KOLMOGOROV


@pytest.mark.parametrize(("m", "h", "n"), [(0.015, 0.788, 10**4), (0.99 * 1.0001, 1e-4, 20_000)])
def test_normal_draw_carries_the_skewness_of_the_total(m, h, n):
    """Sample skewness of sample_normal against γ/√n of the exact total (|z| < 2.58, α = 0.01,
    SE √(6/N)); a plain normal (skewness 0) is many SE away in both cases, one of each sign."""
    size = 400_000
    x = kendall.sample_normal(np.random.default_rng(11), np.full(size, n), np.full(size, m), np.full(size, h))
    _, k2, k3, _ = kendall.total_cumulants(np.array([n]), np.array([m]), np.array([h]))
    target = float(k3[0] / k2[0] ** 1.5)
    se = np.sqrt(6.0 / size)
    xc = x - x.mean()
    sample = (xc**3).mean() / (xc**2).mean() ** 1.5
    assert abs(sample - target) / se < 2.58
    assert abs(target) / se > 10


@pytest.mark.parametrize("cells", [5, kendall.CELL_BY_CELL_MAX_PER_PATIENT])
def test_cell_by_cell_and_lineage_paths_agree(cells):
    """Two exact samplers of the same law (α = 0.01, χ² on pooled bins), up to the largest clone
    drawn cell by cell (with per-patient streams)."""
    rng = np.random.default_rng(42)
    size = 20_000
    n = np.full(size, cells)
    m, h = kendall.compose_mh(np.array([30.0]), np.full((1, size), 0.06), np.full((1, size), 0.04))
    a = kendall._sample_cell_by_cell(rng, n, m, h)
    b = kendall._sample_lineages(rng, n, m, h)
    assert two_sample_chi2_p(a, b) > 0.01


@pytest.mark.parametrize("most", [kendall.LINEAGE_BY_LINEAGE_MAX, kendall.LINEAGE_BY_LINEAGE_MAX_PER_PATIENT])
def test_lineage_by_lineage_and_negative_binomial_sizes_agree(most):
    """Two exact ways to sum K geometric sizes (α = 0.01, χ² on pooled bins), K and H varied, up
    to the most lineages drawn one by one (with one generator, and with per-patient streams)."""
    rng = np.random.default_rng(7)
    draws = Draws(rng)
    size = 20_000
    k = rng.integers(0, most + 1, size)
    q = 1.0 / (1.0 + rng.choice([0.0, 0.3, 4.0], size))
    owner = np.zeros(size, dtype=np.int64)
    a = kendall._sizes_lineage_by_lineage(draws, k, q, owner)
    b = kendall._sizes_negative_binomial(draws, k, q, owner)
    assert (a >= k).all() and (a[q == 1.0] == k[q == 1.0]).all()
    assert two_sample_chi2_p(a, b) > 0.01


def test_normal_limit_saturates_instead_of_wrapping_round():
    # A clone of 5.5e9 cells growing 3.3e9-fold in one step (a draw seen with an extreme pace
    # factor) would hold ~1.8e19 cells, past int64; the count saturates at MAX_CELLS.
    from gistsim.engine.kendall import MAX_CELLS, sample_normal

    n = np.array([5_511_830_530, 10])
    m = np.array([3.27e9, 1.0])
    h = np.array([7.34e9, 0.5])
    out = sample_normal(np.random.default_rng(0), n, m, h)
    assert out[0] == int(MAX_CELLS) and 0 <= out[1] < 100
