"""Seeds of new lesions drawn by the engine: founded ∝ cells during the step, kept if alive at its end.

References independent of the engine's formulas: the survival of a lineage founded at s comes from
the Kolmogorov backward equation integrated by scipy; the mean number of seed cells at the step's
end is σ·n·T·M(0, T) for any rates (each seed founded at s carries M(s, T) on average); its
variance for constant rates uses the closed-form second moment of a birth–death population.
Every test is at α = 0.001 (|z| < 3.29) with fixed seeds, on both paths: the compiled loops (one
generator or per-patient PCG64 streams) and numpy's (per-patient streams of other bit generators).
"""

import numpy as np
import pytest
from scipy import integrate

from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.engine.step import advance
from gistsim.streams import PatientStreams

Z = 3.29  # two-sided α = 0.001
REPLICATES = 2000
SIGMA = 1e-6
N0 = 10**6


def table(n_groups: int, n0: int = N0) -> CloneTable:
    g = np.arange(n_groups)
    return CloneTable.from_arrays(lesion=g, group=g, genotype=np.zeros(n_groups, dtype=np.int32),
                                  count=np.full(n_groups, n0), n_genotypes=1)  # fmt: skip


def rate_at(t, durations, values):
    """The piecewise-constant rate at time t."""
    ends = np.cumsum(durations)
    return values[min(int(np.searchsorted(ends, t, side="right")), len(values) - 1)]


def survival(s, durations, b, d):
    """P(a lineage of one cell founded at s is alive at T): Kolmogorov backward equation for the
    extinction probability q, dq/dτ = d − (b + d)q + b q² in τ = T − time, integrated by scipy."""
    big_t = float(np.sum(durations))
    if big_t - s <= 0:
        return 1.0

    def rhs(tau, q):
        t = big_t - tau
        bb, dd = rate_at(t, durations, b), rate_at(t, durations, d)
        return dd - (bb + dd) * q + bb * q * q

    sol = integrate.solve_ivp(rhs, (0.0, big_t - s), [0.0], rtol=1e-10, atol=1e-12,
                              t_eval=[big_t - s], max_step=0.5, first_step=1e-6)  # fmt: skip
    return 1.0 - float(sol.y[0, -1])


def mean_growth(t0, t1, durations, b, d):
    """M(t0, t1) for piecewise rates."""
    edges = np.concatenate([[0.0], np.cumsum(durations)])
    total = 0.0
    for k in range(len(durations)):
        lo, hi = max(t0, edges[k]), min(t1, edges[k + 1])
        if hi > lo:
            total += (b[k] - d[k]) * (hi - lo)
    return np.exp(total)


def expected_seeds(durations, b, d):
    """Λ = σ n ∫ M(0, s) P(alive at T | founded at s) ds."""
    big_t = float(np.sum(durations))
    points = list(np.cumsum(durations)[:-1])
    f = lambda s: mean_growth(0.0, s, durations, b, d) * survival(s, durations, b, d)  # noqa: E731
    value, _ = integrate.quad(f, 0.0, big_t, points=points or None, limit=200, epsabs=0, epsrel=1e-8)
    return SIGMA * N0 * value


CASES = {
    "growing": ([84.0], [0.05], [0.03]),
    "declining": ([84.0], [0.04], [0.07]),
    "critical": ([60.0], [0.05], [0.05]),
    "on-off": ([28.0, 14.0, 28.0, 14.0], [0.03, 0.05, 0.03, 0.05], [0.08, 0.02, 0.08, 0.02]),
}


def rng_for(path, seed, n_groups):
    """The compiled loops (one generator; per-patient PCG64 streams take them too) or the numpy
    path (per-patient streams of another bit generator)."""
    if path == "compiled":
        return np.random.default_rng(seed)
    return PatientStreams([np.random.Generator(np.random.Philox([seed, g])) for g in range(n_groups)])


def seeds_of(case, seed, n_groups=REPLICATES, path="compiled"):
    durations, b, d = (np.asarray(x, dtype=float) for x in CASES[case])
    rates = GenotypeRates(b[:, None], d[:, None])
    report = advance(table(n_groups), durations, rates, MutationModel.none(1), rng=rng_for(path, seed, n_groups),
                     seeding_rate=SIGMA)  # fmt: skip
    return durations, b, d, report.seeds


PATHS = ["compiled", "numpy"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", list(CASES))
def test_the_number_of_seeds_alive_at_the_end_is_poisson_with_the_thinned_mean(case, path):
    durations, b, d, seeds = seeds_of(case, 11, path=path)
    lam = REPLICATES * expected_seeds(durations, b, d)
    assert abs(len(seeds.size) - lam) / np.sqrt(lam) < Z
    # Per group a Poisson count: its variance equals its mean (dispersion test on 2,000 groups).
    per_group = np.bincount(seeds.group, minlength=REPLICATES)
    dispersion = per_group.var(ddof=1) / per_group.mean()
    assert abs(dispersion - 1) < Z * np.sqrt(2 / (REPLICATES - 1))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", list(CASES))
def test_the_mean_seed_cells_at_the_end_are_sigma_n_t_m(case, path):
    durations, b, d, seeds = seeds_of(case, 12, path=path)
    total = np.bincount(seeds.group, weights=seeds.size, minlength=REPLICATES)
    big_t = float(durations.sum())
    mean = SIGMA * N0 * big_t * mean_growth(0.0, big_t, durations, b, d)
    assert abs(total.mean() - mean) / (total.std(ddof=1) / np.sqrt(REPLICATES)) < Z


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", ["growing", "declining"])
def test_the_variance_of_seed_cells_matches_the_compound_poisson(case, path):
    """Var = σ n ∫ e^{rs} E[X(T−s)²] ds, E X(t)² = e^{2rt} + (b+d)/r · e^{rt}(e^{rt} − 1); the
    sample variance's standard error from the fourth moment is estimated from the sample."""
    durations, b, d, seeds = seeds_of(case, 13, n_groups=4000, path=path)
    (big_t,), (bb,), (dd,) = durations, b, d
    r = bb - dd
    second = lambda t: np.exp(2 * r * t) + (bb + dd) / r * np.exp(r * t) * np.expm1(r * t)  # noqa: E731
    var, _ = integrate.quad(lambda s: np.exp(r * s) * second(big_t - s), 0.0, big_t)
    var *= SIGMA * N0
    total = np.bincount(seeds.group, weights=seeds.size, minlength=4000)
    centred = total - total.mean()
    se = np.sqrt((np.mean(centred**4) - centred.var() ** 2) / len(total))
    assert abs(total.var(ddof=1) - var) / se < Z


def test_seeds_carry_their_founders_identity():
    lesion = np.array([3, 3, 8])
    t = CloneTable.from_arrays(lesion=lesion, group=np.array([0, 0, 1]), genotype=np.array([0, 2, 1], dtype=np.int32),
                               count=np.array([10**6, 10**6, 10**6]), n_genotypes=3)  # fmt: skip
    rates = GenotypeRates(np.full((1, 3), 0.05), np.full((1, 3), 0.03))
    seeds = advance(t, [84.0], rates, MutationModel.none(3), rng=np.random.default_rng(1), seeding_rate=SIGMA).seeds
    assert len(seeds.size) > 30 and (seeds.size >= 1).all()
    assert set(zip(seeds.lesion.tolist(), seeds.group.tolist(), seeds.genotype.tolist())) == {(3, 0, 0), (3, 0, 2), (8, 1, 1)}
    assert (np.diff(seeds.lesion * 3 + seeds.genotype) >= 0).all()  # ordered by founder row


def test_no_seeding_rate_no_seeds_and_the_same_clones():
    rates = GenotypeRates(np.full((1, 1), 0.05), np.full((1, 1), 0.03))
    a, b = table(50), table(50)
    plain = advance(a, [84.0], rates, MutationModel.none(1), rng=PatientStreams.from_ids(5, np.arange(50)))
    seeded = advance(b, [84.0], rates, MutationModel.none(1), rng=PatientStreams.from_ids(5, np.arange(50)),
                     seeding_rate=0.0)  # fmt: skip
    assert plain.seeds is None and len(seeded.seeds.size) == 0
    np.testing.assert_array_equal(a.count, b.count)


@pytest.mark.parametrize("path", PATHS)
def test_a_group_past_the_cap_draws_no_seeds_and_leaves_the_others_alone(path):
    """Per-patient streams: whether patient 0 is over the cap changes nothing for patient 1."""
    rates = GenotypeRates(np.full((1, 1), 0.05), np.full((1, 1), 0.03))
    out = []
    for n0_first in (10**6, 10**9):
        t = CloneTable.from_arrays(lesion=np.array([0, 1]), group=np.array([0, 1]), genotype=np.zeros(2, dtype=np.int32),
                                   count=np.array([n0_first, 10**6]), n_genotypes=1)  # fmt: skip
        streams = PatientStreams.from_ids(9, np.arange(2)) if path == "compiled" else rng_for("numpy", 9, 2)
        out.append(advance(t, [84.0], rates, MutationModel.none(1), rng=streams,
                           seeding_rate=SIGMA, seeding_max_cells=1e8).seeds)  # fmt: skip
    small, big = out
    assert (small.group == 0).sum() > 10 and not (big.group == 0).any()
    np.testing.assert_array_equal(small.size[small.group == 1], big.size[big.group == 1])


@pytest.mark.parametrize("path", PATHS)
def test_a_patient_that_does_not_seed_draws_the_same_whether_others_seed_or_not(path):
    """Its stream ends the step in the same state alone (nobody seeds) as beside a seeding patient."""
    rates = GenotypeRates(np.full((1, 1), 0.05), np.full((1, 1), 0.03))

    def final_state(n_patients):
        t = CloneTable.from_arrays(lesion=np.arange(n_patients), group=np.arange(n_patients),
                                   genotype=np.zeros(n_patients, dtype=np.int32),
                                   count=np.array([10**9, 10**6][:n_patients]), n_genotypes=1)  # fmt: skip
        streams = PatientStreams.from_ids(9, np.arange(n_patients)) if path == "compiled" else rng_for("numpy", 9, n_patients)
        advance(t, [84.0], rates, MutationModel.none(1), rng=streams, seeding_rate=SIGMA, seeding_max_cells=1e8)
        return streams.generators[0].random(4)  # the same state draws the same next numbers

    np.testing.assert_array_equal(final_state(1), final_state(2))


@pytest.mark.parametrize("path", PATHS)
def test_seeding_rates_per_clone_scale_each_clones_seeds(path):
    """Half the groups seed at σ, half at 2σ: each half's count against its own Poisson mean."""
    durations, b, d = (np.asarray(x, dtype=float) for x in CASES["on-off"])
    rates = GenotypeRates(b[:, None], d[:, None])
    sigma = np.where(np.arange(REPLICATES) % 2 == 0, SIGMA, 2 * SIGMA)
    seeds = advance(table(REPLICATES), durations, rates, MutationModel.none(1), rng=rng_for(path, 14, REPLICATES),
                    seeding_rate=sigma).seeds  # fmt: skip
    lam = REPLICATES / 2 * expected_seeds(durations, b, d)
    for parity, factor in ((0, 1.0), (1, 2.0)):
        got = int((seeds.group % 2 == parity).sum())
        assert abs(got - factor * lam) / np.sqrt(factor * lam) < Z
