"""The compiled loops (engine with one generator) against the numpy paths (per-patient streams)
and against plain references: same laws, same merges."""

import numpy as np
import pytest
from scipy import stats

from gistsim.biology.genotypes import default_registry
from gistsim.engine import _kernels, _table_kernels, arrivals, kendall, normal_limit
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.streams import Draws, PatientStreams
from tests.test_kendall import two_sample_chi2_p


@pytest.mark.parametrize("seed", range(5))
def test_gallop_finds_the_leftmost_position_like_a_binary_search(seed):
    rng = np.random.default_rng(seed)
    keys = np.sort(rng.integers(0, 500, rng.integers(0, 300)))
    for x in rng.integers(-5, 505, 200):
        start = int(rng.integers(0, len(keys) + 3))
        assert _table_kernels._gallop(keys, x, start) == np.searchsorted(keys, x), (x, start)


@pytest.mark.parametrize("seed", range(5))
def test_add_cells_matches_a_merge_by_dictionary(seed):
    """Additions to existing clones, new clones (duplicated, in any order), empty additions, and
    clones left without cells, against a dictionary of (lesion, genotype) → cells."""
    rng = np.random.default_rng(seed)
    g = 7
    lesion = rng.integers(0, 40, 120)
    genotype = rng.integers(0, g, 120)
    count = rng.integers(0, 5, 120)
    table = CloneTable.from_arrays(lesion=lesion, genotype=genotype, count=count, group=lesion // 4, n_genotypes=g)
    table.count[rng.random(len(table)) < 0.2] = 0  # left without cells by a step
    ref = {(int(a), int(b)): int(c) for a, b, c in zip(table.lesion, table.genotype, table.count)}
    add_lesion = rng.integers(0, 45, 200)
    add_genotype = rng.integers(0, g, 200)
    add_count = rng.integers(0, 4, 200)
    for a, b, c in zip(add_lesion, add_genotype, add_count):
        if c:
            ref[(int(a), int(b))] = ref.get((int(a), int(b)), 0) + int(c)
    table.add_cells(add_lesion, add_lesion // 4, add_genotype, add_count)
    expected = sorted((k, c) for k, c in ref.items() if c > 0)
    got = [((int(a), int(b)), int(c)) for a, b, c in zip(table.lesion, table.genotype, table.count)]
    assert got == expected
    assert (table.group == table.lesion // 4).all() and table.genotype.dtype == np.int32


def test_add_cells_refuses_a_table_out_of_order():
    table = CloneTable.from_arrays(lesion=[1, 2], genotype=[0, 0], count=[3, 4], n_genotypes=2)
    table.lesion = table.lesion[::-1].copy()
    with pytest.raises(ValueError, match="not sorted"):
        table.add_cells(np.array([1]), np.array([1]), np.array([1]), np.array([1]))


# (cells, birth, death) per clone over 84 days: cell by cell; binomial then lineage by lineage;
# binomial then negative binomial; and the skew-corrected normal.
# (Which path each takes is checked in the test.)
def philox_streams(seed: int, n: int) -> PatientStreams:
    """Per-patient streams that the compiled loops do not take (numpy's path)."""
    return PatientStreams([np.random.Generator(np.random.Philox([seed, i])) for i in range(n)])


TOTAL_CASES = [(5, 0.06, 0.04), (60, 0.04, 0.09), (3_000, 0.04, 0.09), (10**7, 0.04, 0.035)]


@pytest.mark.parametrize(("cells", "b", "d"), TOTAL_CASES)
def test_compiled_total_has_the_law_of_the_numpy_path(cells, b, d):
    """χ² on pooled bins against numpy's path, one generator and per-patient streams, α = 0.01 per
    case (Bonferroni over the two)."""
    size = 20_000
    n = np.full(size, cells)
    m, h = kendall.compose_mh(np.array([84.0]), np.full((1, size), b), np.full((1, size), d))
    p = kendall.survival_probability(m[0], h[0])
    normal = kendall.use_normal_limit(np.array([cells]), m[:1], h[:1])[0]
    assert normal == (cells > 10**6)
    assert normal or (cells * p > 2 * kendall.LINEAGE_BY_LINEAGE_MAX) == (cells == 3_000)
    compiled = kendall.sample_total(np.random.default_rng(1), n, m, h)
    # Per-patient PCG64 streams take the compiled loops too (100 patients here); other bit
    # generators take numpy's path.
    owner = np.arange(size) % 100
    per_patient = kendall.sample_total(PatientStreams.from_ids(2, np.arange(100)), n, m, h, owner)
    numpy_path = kendall.sample_total(philox_streams(2, 1), n, m, h, np.zeros(size, dtype=np.int64))
    assert two_sample_chi2_p(compiled, numpy_path) > 0.01 / 2
    assert two_sample_chi2_p(per_patient, numpy_path) > 0.01 / 2
    mean, var = kendall.mean_variance(cells, m[0], h[0])
    assert abs(compiled.mean() - mean) < 4 * np.sqrt(var / size)


def _clones(n0: float, size: int, base_death: float):
    reg = default_registry()
    g = reg.n_genotypes
    base = reg.code("KIT_exon11")
    # On drug for 56 days (the sensitive genotype dies fast), then off for 28.
    birth, death = np.full((2, g), 0.04), np.full((2, g), 0.035)
    death[0, base] = base_death
    rates = GenotypeRates(birth, death)
    mutation = MutationModel.from_registry(reg, 1e-7, escape_target_bp=2.0)
    genotype = np.full(size, base)
    group = np.arange(size)
    durations = np.array([56.0, 28.0])
    b, d = rates.rates(group, genotype)
    grow = np.exp((b - d) * durations[:, None])
    m_start = np.vstack([np.ones(size), grow[0], grow[0] * grow[1]])
    supply = b * m_start[:2] * (np.expm1((b - d) * durations[:, None]) / (b - d))
    n = np.full(size, int(n0))
    return n, group, genotype, durations, b, d, m_start, supply, rates, mutation


@pytest.mark.parametrize("n0", [1_000_000, 20_000_000], ids=["thinning", "lineages"])
def test_compiled_arrivals_have_the_law_of_the_numpy_path(n0, monkeypatch):
    """Arrivals over a two-piece step drawn by the compiled thinning (small supply) or the
    compiled lineage loop (larger supply, light pairs), from one generator or per-patient PCG64
    streams, against numpy's path (Philox streams): per mutant genotype, the number of clones with
    arrivals (two-proportion z-test) and the total size (two-sample KS), α = 0.01 with Bonferroni
    over the two comparisons, genotypes and statistics."""
    size = 6_000
    inputs = _clones(n0, size, 0.09)
    used = []
    for name in ("_thinning_compiled", "_pairs_compiled"):
        real = getattr(arrivals, name)
        monkeypatch.setattr(arrivals, name, lambda *a, _r=real, _n=name: used.append(_n) or _r(*a))
    one = arrivals.sample_arrivals(Draws(np.random.default_rng(5)), *inputs)
    assert used and set(used) == {"_thinning_compiled" if n0 < 1e7 else "_pairs_compiled"}
    used.clear()
    per_patient = arrivals.sample_arrivals(Draws(PatientStreams.from_ids(7, np.arange(size))), *inputs)
    assert used and set(used) == {"_thinning_compiled" if n0 < 1e7 else "_pairs_compiled"}
    numpy_path = arrivals.sample_arrivals(Draws(philox_streams(6, size)), *inputs)
    for compiled in (one, per_patient):
        genotypes = np.union1d(compiled.genotype, numpy_path.genotype)
        alpha = 0.01 / (4 * len(genotypes))
        for gt in genotypes:
            a, b = compiled.size[compiled.genotype == gt], numpy_path.size[numpy_path.genotype == gt]
            pooled = (len(a) + len(b)) / (2 * size)
            z = (len(a) - len(b)) / size / np.sqrt(2 * pooled * (1 - pooled) / size)
            assert 2 * stats.norm.sf(abs(z)) > alpha, gt
            if min(len(a), len(b)) >= 20:
                assert stats.ks_2samp(a, b).pvalue > alpha, gt


@pytest.mark.parametrize(
    ("n", "p"), [(1, 0.5), (8, 0.3), (53, 0.27), (54, 0.73), (128, 0.05), (100, 1 / 3), (40, 1e-3)]
)
def test_binomial_by_bits_has_the_binomial_law(n, p):
    """χ² of 20,000 draws against the binomial pmf (cells with expectation ≥ 5 pooled at the
    tails), α = 0.01 per case; chunk edges (53, 54 cells), p dyadic and not, tiny p."""
    rng = np.random.default_rng(n)
    x = np.array([_kernels._binomial_bits(rng, n, p) for _ in range(20_000)])
    assert ((x >= 0) & (x <= n)).all()
    expected = stats.binom.pmf(np.arange(n + 1), n, p) * len(x)
    observed = np.bincount(x, minlength=n + 1).astype(float)
    keep = expected >= 5
    lo, hi = np.flatnonzero(keep)[[0, -1]]
    obs = np.r_[observed[: lo + 1].sum(), observed[lo + 1 : hi], observed[hi:].sum()]
    exp = np.r_[expected[: lo + 1].sum(), expected[lo + 1 : hi], expected[hi:].sum()]
    if len(exp) < 2:  # all mass in one cell
        assert observed[lo] == len(x)
        return
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 0.01


def test_binomial_by_bits_at_the_ends():
    rng = np.random.default_rng(0)
    assert _kernels._binomial_bits(rng, 100, 0.0) == 0
    assert _kernels._binomial_bits(rng, 100, 1.0) == 100
    assert _kernels._binomial_bits(rng, 0, 0.5) == 0


def _poisson_chi2_p(x: np.ndarray, lam: float) -> float:
    """χ² p-value of counts ``x`` against Poisson(lam), bins below 5 expected pooled."""
    top = int(stats.poisson.ppf(1 - 1e-4, lam))
    observed = np.bincount(np.minimum(x, top), minlength=top + 1).astype(float)
    expected = stats.poisson.pmf(np.arange(top + 1), lam)
    expected[-1] = stats.poisson.sf(top - 1, lam)
    keep = expected * len(x) >= 5
    obs = np.r_[observed[keep], observed[~keep].sum()]
    exp = np.r_[expected[keep], expected[~keep].sum()] * len(x)
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue


@pytest.mark.parametrize("generators", ["one", "per-patient"])
def test_thinning_candidates_are_independent_poisson_per_mutation_and_piece(generators):
    """Clones of two genotypes over two pieces (net rates −0.1 and +0.05 per day), mutations at
    rates 0.5, 1 and 2, the third impossible for both and the first for genotype 1: per
    (mutation, piece) segment, χ² of the counts against Poisson(n0 · u_k · supply) (α = 0.01 with
    Bonferroni over the six); no impossible candidate; neighbouring segments uncorrelated
    (|r| < 3.29/√N, α = 0.001); offsets per piece against the density ∝ exp(r x) (KS, α = 0.01
    with Bonferroni over the two). The output starts too small and must grow. Per patient: 200
    generators, each with its own process over its clones (clone i draws from generator i mod 200)."""
    reps = 20_000
    genotype = np.tile([0, 1], reps // 2)
    mutant_of = np.array([[1, 2, -1], [-1, 2, -1], [-1, -1, -1]])
    rate = np.array([0.5, 1.0, 2.0])
    durations = np.array([10.0, 5.0])
    b = np.repeat([[0.04], [0.06]], reps, axis=1)
    d = np.repeat([[0.14], [0.01]], reps, axis=1)
    supply = np.repeat([[2.0], [0.6]], reps, axis=1)
    n0 = np.full(reps, 1, dtype=np.int64)
    if generators == "one":
        gens, gi, n_gen = Draws(np.random.default_rng(3)).compiled(None, reps)
    else:
        streams = PatientStreams.from_ids(3, np.arange(200))
        gens, gi, n_gen = Draws(streams).compiled(np.arange(reps) % 200, reps)
    src, target, piece, offset = _kernels.thinning_candidates(
        gens, gi, n_gen, np.arange(reps), n0, genotype, rate, mutant_of, supply, b, d, durations, 0.0
    )
    assert (mutant_of[genotype[src]] == target[:, None]).any(axis=1).all()
    counts = np.zeros((reps, 3, 2), dtype=np.int64)
    np.add.at(counts, (src, target, piece), 1)
    segments = {(0, 1): 0, (0, 2): 1, (1, 2): 1}  # (genotype, target): mutation k
    for (g, t), k in segments.items():
        for j in range(2):
            lam = rate[k] * supply[j, 0]
            assert _poisson_chi2_p(counts[genotype == g, t, j], lam) > 0.01 / 6, (g, t, j)
    assert counts[genotype == 1, 1].sum() == 0
    zero = genotype == 0
    for a, c in [(counts[zero, 1, 1], counts[zero, 2, 0]), (counts[zero, 1, 0], counts[zero, 1, 1])]:
        assert abs(np.corrcoef(a, c)[0, 1]) < 3.29 / np.sqrt(zero.sum())
    for j in range(2):
        r = b[j, 0] - d[j, 0]
        x = offset[piece == j]
        cdf = lambda v, r=r, tau=durations[j]: np.expm1(r * v) / np.expm1(r * tau)
        assert stats.kstest(x, cdf).pvalue > 0.01 / 2, j


def test_added_cells_saturate_at_the_count_ceiling_instead_of_wrapping_round():
    """Two counts at the ceiling (an extreme pace saturates both) sum to the ceiling, not to a
    negative number, whether the addition joins a clone or founds one."""
    top = int(kendall.MAX_CELLS)
    table = CloneTable.from_arrays(lesion=[0, 1], genotype=[0, 0], count=[top, 5], n_genotypes=2)
    table.add_cells(np.array([0, 1, 1]), np.array([0, 1, 1]), np.array([0, 1, 1]), np.array([top, top, top]))
    assert table.count.tolist() == [top, 5, top]
    two = CloneTable.from_arrays(lesion=[0, 0, 1], genotype=[0, 1, 0], count=[top, top, 3], n_genotypes=2)
    ids, totals = two.lesion_totals()
    assert ids.tolist() == [0, 1] and totals.tolist() == [top, 3]


def test_compiled_normal_switch_and_draw_equal_normal_limits():
    """The compiled loops' per-element normal switch and draw give exactly normal_limit's
    vectorised results (cumulants of clone totals over a wide grid, skew of both signs)."""
    rng = np.random.default_rng(8)
    n = np.exp(rng.uniform(0, np.log(1e10), 3000)).round()
    m = np.exp(rng.uniform(-6, 3, 3000))
    h = np.exp(rng.uniform(-8, 5, 3000))
    k1, k2, k3, k4 = kendall.total_cumulants(n, m, h)
    eps = kendall.NORMAL_LIMIT_MAX_KOLMOGOROV
    within = np.array([_kernels._within(*k, eps) for k in zip(k2, k3, k4)])
    np.testing.assert_array_equal(within, normal_limit.within_tolerance(k2, k3, k4))
    assert 0.1 < within.mean() < 0.9
    z = rng.standard_normal(3000)
    compiled = np.array([_kernels._normal_draw(*v) for v in zip(z, k1, k2, k3)])
    np.testing.assert_array_equal(compiled, normal_limit.draw(z, k1, k2, k3))


@pytest.mark.parametrize("seed", range(4))
def test_owner_runs_group_like_a_stable_sort(seed):
    """The compiled grouping of draw elements by generator against numpy's stable argsort: the
    same order, runs and generators, and None-equivalent (grouped) when already sorted."""
    rng = np.random.default_rng(seed)
    n_gen = 30
    index = rng.permutation(n_gen)
    owner = rng.integers(0, n_gen, rng.integers(1, 400))
    by_generator = owner[np.argsort(index[owner], kind="stable")]  # grouped: the path without a sort
    for case, expect_grouped in ((owner, len(owner) < 2), (by_generator, True)):
        gen_of = index[case]
        grouped, order, los, his, first = _kernels.owner_runs(index, case, n_gen)
        assert grouped == bool((np.diff(gen_of) >= 0).all())
        assert grouped or not expect_grouped
        ref_order = np.argsort(gen_of, kind="stable")
        ordered = gen_of if grouped else gen_of[order]
        if not grouped:
            np.testing.assert_array_equal(order, ref_order)
        np.testing.assert_array_equal(ordered, gen_of[ref_order])
        cuts = np.flatnonzero(np.diff(ordered)) + 1
        np.testing.assert_array_equal(los, np.r_[0, cuts])
        np.testing.assert_array_equal(his, np.r_[cuts, len(case)])
        np.testing.assert_array_equal(first, ordered[los])


def test_poisson_search_matches_the_vectorised_search():
    """The compiled inversion search gives the numbers of the vectorised search it replaced
    (same terms in the same order), means 0 to 30 and uniforms near 0 and 1."""
    rng = np.random.default_rng(4)
    lam = np.r_[0.0, rng.uniform(0, 30, 5000)]
    u = np.r_[rng.random(len(lam) - 2), 1e-300, 1 - 1e-16]

    def vectorised(u, lam):
        out = np.zeros(len(u), dtype=np.int64)
        p = np.exp(-lam)
        idx = np.flatnonzero(u > p)
        u_a, lam_a, p_a = u[idx], lam[idx], p[idx]
        f_a, k, cap = p_a.copy(), 0, 60 + 3 * float(lam.max())
        while len(idx):
            k += 1
            p_a = p_a * lam_a / k
            f_a = f_a + p_a
            more = u_a > f_a
            if k >= cap:
                more[:] = False
            out[idx[~more]] = k
            idx, u_a, lam_a, p_a, f_a = idx[more], u_a[more], lam_a[more], p_a[more], f_a[more]
        return out

    from gistsim.streams import poisson_by_inversion

    np.testing.assert_array_equal(poisson_by_inversion(u, lam), vectorised(u, lam))


def test_owner_runs_refuse_an_owner_outside_the_streams():
    """An unchecked compiled read past the index would group draws under a stray generator (and
    write past the counting sort's table): refused instead."""
    index = np.arange(4)
    for owner in ([0, 4], [-1, 0], [2, 1, 9]):
        with pytest.raises(IndexError, match="outside the patient streams"):
            _kernels.owner_runs(index, np.array(owner), 4)
    with pytest.raises(IndexError, match="outside the patient streams"):
        _kernels.owner_runs(np.array([0, 7]), np.array([1]), 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_quadrature_tables_equal_the_numpy_ones(seed):
    """profile_tables against the numpy path it replaces for compiled draws (_pair_integrand,
    _node_tables, arrival_cumulants, the sum over nodes): three pieces, one of them empty, rates on
    drug and off, net rates at and near 0, geo = 1 (a mutant that cannot divide). Same operations in
    the same order, so only the last bits of exp/expm1/log may differ: rtol 1e-12."""
    from gistsim.engine import _quadrature_kernels

    rng = np.random.default_rng(seed)
    n_prof = 40
    durations = np.array([30.0, 0.0, 54.0])
    bs, bt = rng.uniform(0.0, 0.05, (2, 3, n_prof))
    ds, dt = bs + rng.normal(0.0, 0.03, (2, 3, n_prof))
    ds, dt = np.abs(ds), np.abs(dt)
    dt[:, 0] = bt[:, 0]  # net rate exactly 0
    dt[:, 1] = bt[:, 1] * (1 + 1e-12)  # |r t| below the series threshold
    bt[:, 2] = 0.0  # cannot divide: geo = 1
    m_start = np.vstack([np.ones(n_prof), *np.cumprod(np.exp((bs - ds) * durations[:, None]), axis=0)])[:3]
    u = rng.uniform(1e-8, 1e-6, n_prof)
    n_sub = arrivals.sub_intervals(durations, bs, ds, bt, dt)
    grids, bucket = arrivals._grid_buckets(n_sub)
    checked = 0
    for g, subs in enumerate(grids):
        cols = np.flatnonzero(bucket == g)
        numbers = (*(a[:, cols] for a in (bs, ds, bt, dt)), m_start[:, cols], u[cols])
        integrand, geo = arrivals._pair_integrand(arrivals._quadrature_grid(durations, subs), durations, *numbers)
        cum, log_q = arrivals._node_tables(integrand, geo)
        expected = (arrivals.arrival_cumulants(integrand, geo).T, integrand.T, geo.T, cum.T, log_q.T, integrand.sum(axis=0))
        got = _quadrature_kernels.profile_tables(durations, np.ascontiguousarray(subs), *numbers, arrivals._GL_X, arrivals._GL_W)
        for name, e, a in zip(("cumulants", "integrand", "geo", "cum", "log_q", "sum"), expected, got):
            assert a.shape == e.shape, name
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=0, err_msg=name)
        if 2 in cols:
            assert np.isneginf(got[4][list(cols).index(2)]).all()  # geo = 1: log(1 - geo) = -inf
        checked += len(cols)
    assert checked == n_prof
