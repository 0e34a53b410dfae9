"""The skew-corrected normal for large totals of mutant arrivals: cumulants, and the engine path."""

import numpy as np
import pytest
from scipy import stats

from gistsim.biology.genotypes import default_registry
from gistsim.engine import _kernels, arrivals, normal_limit
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.streams import Draws, PatientStreams
from gistsim.verification.checks_normal import (
    ARRIVAL_CASES,
    arrival_profile,
    arrival_threshold,
    compound_poisson_pmf,
)


@pytest.mark.parametrize("case", ARRIVAL_CASES, ids=[c[0] for c in ARRIVAL_CASES])
def test_arrival_cumulants_match_the_exact_law(case):
    """K₁…K₄ from the closed forms against the moments of the exact pmf (FFT of the pgf)."""
    _, durations, bs, ds, bt, dt = case
    integrand, geo = arrival_profile(durations, bs, ds, bt, dt)
    n0 = 3 * arrival_threshold(integrand, geo)
    k = n0 * arrivals.arrival_cumulants(integrand[:, None], geo[:, None])[:, 0]
    p = compound_poisson_pmf(n0 * integrand, geo)
    x = np.arange(len(p), dtype=float)
    # Far from the mean the FFT's rounding noise (~1e-16 per point) outweighs the true pmf and,
    # weighted by (x - mean)^4, the fourth cumulant: sum over ±15 SD of the closed-form law only.
    near = np.abs(x - k[0]) <= 15 * np.sqrt(k[1])
    x, p = x[near], p[near]
    mean = (x * p).sum()
    c = [(((x - mean) ** r) * p).sum() for r in (2, 3, 4)]
    got = np.array([mean, c[0], c[1], c[2] - 3 * c[0] ** 2])
    assert (np.abs(got / k - 1) <= [1e-9, 1e-7, 1e-5, 1e-3]).all(), (got, k)


def test_point_mass_passes_and_error_falls_as_one_over_n():
    assert normal_limit.within_tolerance(0.0, 0.0, 0.0)
    assert normal_limit.edgeworth_error(0.0, 0.0, 0.0) == 0.0
    k = np.array([2.0, 7.0, 30.0])  # one term's K₂, K₃, K₄
    e1, e10 = normal_limit.edgeworth_error(*k), normal_limit.edgeworth_error(*(10 * k))
    assert e10 == pytest.approx(e1 / 10)


def _heavy_pairs(n0: float, size: int):
    """``size`` identical clones of a drug-sensitive exon 11 genotype, under imatinib-like death."""
    reg = default_registry()
    g = reg.n_genotypes
    base = reg.code("KIT_exon11")
    birth, death = np.full((1, g), 0.04), np.full((1, g), 0.035)
    death[0, base] = 0.09
    rates = GenotypeRates(birth, death)
    mutation = MutationModel.from_registry(reg, 1e-9, escape_target_bp=2.0)
    genotype = np.full(size, base)
    group = np.zeros(size, dtype=np.int64)
    durations = np.array([84.0])
    b, d = rates.rates(group, genotype)
    m_start = np.vstack([np.ones(size), np.exp((b[0] - d[0]) * 84.0)])
    supply = b * (np.expm1((b - d) * 84.0) / (b - d))
    n = np.full(size, n0)
    return n, group, genotype, durations, b, d, m_start, supply, rates, mutation


def _engine_rule(inputs):
    """Per mutation of the clones' genotype: Λ of one clone's pair, whether the engine's rule sends
    it the normal way (checked on the profile, outside the engine's compiled loop), and its number
    of quadrature nodes."""
    n, group, genotype, durations, b, d, _, _, rates, mutation = inputs
    lam, normal, nodes = [], [], []
    for k, target in enumerate(mutation.mutant_of[genotype[0]]):
        if target >= 0:
            bt, dt = rates.rates(group[:1], np.array([target]))
            integrand, geo = arrival_profile(
                durations, b[:, 0], d[:, 0], bt[:, 0], dt[:, 0], rate=mutation.rate_per_division[k]
            )
            c = n[0] * arrivals.arrival_cumulants(integrand[:, None], geo[:, None])[:, 0]
            lam.append(n[0] * integrand.sum())
            normal.append(bool(normal_limit.within_tolerance(c[1], c[2], c[3])))
            nodes.append(len(integrand))
    return np.array(lam), np.array(normal), np.array(nodes)


def test_normal_path_draws_the_law_of_the_node_path(monkeypatch):
    """The same heavy pairs with the normal draw and with it switched off (tolerance 0): per mutant
    genotype, two-sample KS on the total size (α = 0.01 over all genotypes, Bonferroni); the
    engine's rule, applied to each mutation's profile, must send most pairs the normal way."""
    size = 4_000
    inputs = _heavy_pairs(2e11, size)
    lam, normal_way, _ = _engine_rule(inputs)
    normal_way &= lam > arrivals.AGGREGATE_ABOVE
    assert sum(normal_way) > len(normal_way) / 2
    normal = arrivals.sample_arrivals(Draws(np.random.default_rng(1)), *inputs)
    monkeypatch.setattr(normal_limit, "MAX_KOLMOGOROV", 0.0)
    nodes = arrivals.sample_arrivals(Draws(np.random.default_rng(2)), *inputs)
    genotypes = np.unique(nodes.genotype)
    for gt in genotypes:
        a = normal.size[normal.genotype == gt]
        b = nodes.size[nodes.genotype == gt]
        assert len(a) == len(b) == size
        assert stats.ks_2samp(a, b).pvalue > 0.01 / len(genotypes), gt


def test_per_patient_streams_draw_moderate_pairs_lineage_by_lineage_with_the_same_law(monkeypatch):
    """Pairs expecting more than NODE_COST arrivals per quadrature node (and at most 1000) that
    miss the normal limit go node by node with one generator and lineage by lineage with
    per-patient streams: the same law (per mutant genotype, two-sample KS on the total size,
    α = 0.01 with Bonferroni)."""
    size = 3_000
    inputs = list(_heavy_pairs(2e11, size))
    inputs[1] = np.arange(size)  # each clone its own patient
    lam, normal, nodes = _engine_rule(inputs)
    by_node_way = (lam > _kernels.NODE_COST * nodes) & (lam <= arrivals.AGGREGATE_ABOVE_PER_PATIENT) & ~normal
    assert by_node_way.sum() >= 3  # a third of the pairs go node by node with one generator
    by_node = []
    real = arrivals._by_node

    def spy(rng, src_rows, *rest):
        by_node.append(len(src_rows))
        return real(rng, src_rows, *rest)

    monkeypatch.setattr(arrivals, "_by_node", spy)
    one = arrivals.sample_arrivals(Draws(np.random.default_rng(5)), *inputs)
    per = arrivals.sample_arrivals(Draws(PatientStreams.from_ids(6, np.arange(size))), *inputs)
    assert sum(by_node) == 0  # lineage by lineage with per-patient streams
    genotypes = np.unique(one.genotype)
    for gt in genotypes:
        a, b = one.size[one.genotype == gt], per.size[per.genotype == gt]
        assert stats.ks_2samp(a, b).pvalue > 0.01 / len(genotypes), gt
