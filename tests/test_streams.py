"""Per-patient streams: a patient's draws do not depend on who else is in its block."""

import numpy as np
import pytest

from gistsim.biology.genotypes import default_registry
from gistsim.engine.clones import CloneTable
from gistsim.engine.rates import GenotypeRates, MutationModel
from gistsim.engine.step import advance
from gistsim.streams import Draws, PatientStreams

REG = default_registry()
G = REG.n_genotypes
BASE = REG.code("KIT_exon11")
BIRTH = np.full((1, G), 0.04)
DEATH = np.full((1, G), 0.035)
DEATH[0, BASE] = 0.09  # the drug kills the driver-only genotype
RATES = GenotypeRates(BIRTH, DEATH)
MUT = MutationModel.from_registry(REG, 1e-8, escape_target_bp=2.0)  # high, so that arrivals (both paths) happen


def patients(ids):
    """Each patient: a large sensitive lesion (quadrature path) and a small resistant one (thinning)."""
    rows = []
    for k, pid in enumerate(ids):
        rng = np.random.default_rng(1000 + pid)  # the patient's baseline depends on its id only
        rows += [(2 * k, k, BASE, int(rng.integers(10**8, 10**10))),
                 (2 * k + 1, k, REG.code("KIT_exon11", ["D816"]), int(rng.integers(10, 10**4)))]  # fmt: skip
    lesion, group, geno, count = map(np.array, zip(*rows))
    return CloneTable.from_arrays(lesion=lesion, group=group, genotype=geno, count=count, n_genotypes=G)


def course(ids, steps=6):
    table = patients(ids)
    streams = PatientStreams.from_ids(42, np.array(ids))
    for _ in range(steps):
        advance(table, [84.0], RATES, MUT, rng=streams)
    pid = np.array(ids)
    return {(int(pid[g]), int(les % 2), REG.name(int(gt))): int(c)
            for les, g, gt, c in zip(table.lesion, table.group, table.genotype, table.count)}  # fmt: skip


def test_a_patient_alone_or_in_a_block_has_the_same_course():
    block = course([3, 8, 21, 34, 55])
    alone = course([21])
    assert alone and {k: v for k, v in block.items() if k[0] == 21} == alone
    # Another block composition around the same patient.
    other = course([21, 2, 13])
    assert {k: v for k, v in other.items() if k[0] == 21} == alone


def test_streams_differ_between_patients_and_seeds():
    a = PatientStreams.from_ids(1, np.array([1, 2]))
    b = PatientStreams.from_ids(2, np.array([1]))
    x = Draws(a).random(np.array([0, 0, 1, 1]))
    assert len(set(np.round(x, 12))) == 4
    assert Draws(b).random(np.array([0]))[0] != x[0]


def test_owner_is_required_with_patient_streams():
    from gistsim.engine.kendall import sample_exact

    with pytest.raises(ValueError, match="owner"):
        sample_exact(PatientStreams.from_ids(1, np.array([0])), np.array([5]), np.array([1.0]), np.array([0.5]))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        Draws(42)


def test_a_sampled_patient_is_the_same_in_any_block():
    from gistsim.biology.parameters import default_evolution
    from gistsim.cases.schema import load_case
    from gistsim.clinic.cohort import sample_cohort
    from gistsim.clinic.treatment import Treatment

    spec, evo, tr = load_case("sakakura-2006").baseline.to_spec(), default_evolution(), Treatment()

    def draw(ids):
        c = sample_cohort(len(ids), spec, registry=REG, evolution=evo, mutation=MUT, pk_sampler=tr.sample_pk,
                          rng=PatientStreams.from_ids(5, np.array(ids)))  # fmt: skip
        k = ids.index(77)
        les = np.flatnonzero(c.lesion_patient == k)
        rows = np.isin(c.clones.lesion, les)
        return (c.driver[k], c.age_years[k], tr_clearance(c, k),
                sorted(zip(c.clones.lesion[rows] - les[0], c.clones.genotype[rows], c.clones.count[rows])))  # fmt: skip

    def tr_clearance(c, k):
        return float(c.pk["imatinib"].clearance_l_per_h[k])

    assert draw([77]) == draw([3, 77, 9, 150]) == draw([1, 2, 77])


class _PatientRates:
    """Rates that differ between patients (two exposures, by patient id) over a 2-piece schedule."""

    def __init__(self, ids):
        self.kill = np.where(np.array(ids) % 2 == 0, 0.05, 0.02)  # per group (index in the block)

    def rates(self, group, genotype, lesion=None):
        birth = BIRTH[0, genotype] * np.ones((2, 1))
        death = DEATH[0, genotype] + np.outer([1.0, 0.0], self.kill[group]) * (genotype == BASE)
        return birth, death


def test_a_patient_course_with_patient_specific_rates_does_not_depend_on_its_block():
    """Λ is shared between pairs with identical numbers only: patients with other rates in the
    block, or with the same rates, leave a patient's course unchanged."""

    def course_2(ids, steps=4):
        table = patients(ids)
        streams, rates = PatientStreams.from_ids(42, np.array(ids)), _PatientRates(ids)
        for _ in range(steps):
            advance(table, [56.0, 28.0], rates, MUT, rng=streams)
        pid = np.array(ids)
        return {(int(pid[g]), int(les % 2), REG.name(int(gt))): int(c)
                for les, g, gt, c in zip(table.lesion, table.group, table.genotype, table.count)}  # fmt: skip

    alone = course_2([21])
    for block in ([3, 8, 21, 34, 55], [21, 2, 13], [22, 21]):
        assert {k: v for k, v in course_2(block).items() if k[0] == 21} == alone


def _streams(kind, seed, n):
    """PCG64 streams (the compiled samplers) or Philox ones (numpy's methods, scalar and array)."""
    if kind == "pcg64":
        return PatientStreams.from_ids(seed, np.arange(n))
    return PatientStreams([np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, i]))) for i in range(n)])


@pytest.mark.parametrize("kind", ["pcg64", "philox"])
@pytest.mark.parametrize("method", ["poisson", "binomial", "negative_binomial", "geometric"])
def test_scalar_and_array_draws_of_an_owner_are_the_same_numbers(method, kind):
    # PCG64 streams draw in one compiled loop; others owner by owner, one scalar call at a time
    # for owners with few elements (cheaper). An owner's numbers must be those of one array call
    # on its own generator, whichever path the call takes, and leave it in the same state.
    from gistsim import streams

    rng = np.random.default_rng(5)
    sizes = [1, 3, streams.SCALAR_MAX, streams.SCALAR_MAX + 1, 60]
    owner = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    args = {
        # Means above POISSON_INVERSION_MAX: smaller ones are drawn by inversion (tested below).
        "poisson": (rng.uniform(31, 300, len(owner)),),
        "binomial": (rng.integers(0, 10**6, len(owner)), rng.uniform(0, 1, len(owner))),
        "negative_binomial": (rng.uniform(1, 1e4, len(owner)), rng.uniform(0.05, 1, len(owner))),
        "geometric": (rng.uniform(0.01, 1, len(owner)),),
    }[method]
    used = _streams(kind, 9, len(sizes))
    got = getattr(Draws(used), method)(owner, *args)
    assert (used.typed_generators is not None) == (kind == "pcg64")
    fresh = _streams(kind, 9, len(sizes)).generators
    for k in range(len(sizes)):
        mine = owner == k
        expected = getattr(fresh[k], method)(*(a[mine] for a in args))
        assert (got[mine] == expected).all()
        assert used.generators[k].random() == fresh[k].random()


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [("binomial", (np.array([10, 10]), np.array([0.5, 1.5])), "p"),
     ("negative_binomial", (np.array([3.0, 0.0]), np.array([0.5, 0.5])), "n"),
     ("geometric", (np.array([0.5, 0.0]),), "p"),
     ("poisson", (np.array([50.0, np.nan]),), "lam")],
)  # fmt: skip
def test_arguments_numpy_refuses_are_refused_with_numpys_error(method, args, message):
    # The compiled samplers do not check their arguments: such calls go to numpy, which raises.
    with pytest.raises(ValueError, match=message):
        getattr(Draws(PatientStreams.from_ids(1, np.arange(2))), method)(np.array([0, 1]), *args)


@pytest.mark.parametrize("kind", ["pcg64", "philox"])
@pytest.mark.parametrize("method", ["random", "standard_normal"])
@pytest.mark.parametrize("typed_list", [False, True])
def test_count_only_draws_of_an_owner_are_its_own_streams_numbers(method, kind, typed_list):
    # Uniforms and normals take only a count: each owner's elements, in their order, are the next
    # numbers of its own generator, however the owners are interleaved in the call. Normals come
    # from the compiled loop once the typed list of generators exists, else from numpy per owner.
    rng = np.random.default_rng(6)
    sizes = [1, 2, 7, 40]
    owner = rng.permutation(np.repeat(np.arange(len(sizes)), sizes)).reshape(5, 10)
    used = _streams(kind, 3, len(sizes))
    if typed_list:
        assert (used.typed_generators is not None) == (kind == "pcg64")
    got = getattr(Draws(used), method)(owner)
    assert got.shape == owner.shape
    fresh = _streams(kind, 3, len(sizes)).generators
    for k, n in enumerate(sizes):
        assert (got[owner == k] == getattr(fresh[k], method)(n)).all()
        assert used.generators[k].random() == fresh[k].random()
    assert getattr(Draws(PatientStreams.from_ids(3, np.arange(4))), method)(np.zeros(0, dtype=np.int64)).shape == (0,)


def test_small_poisson_means_are_drawn_by_inversion_with_the_poisson_law():
    """χ² goodness of fit against the Poisson pmf (α = 0.01 per mean, pooled tail), means from
    far below 1 to the largest drawn by inversion."""
    from scipy import stats

    from gistsim.streams import POISSON_INVERSION_MAX, poisson_by_inversion

    rng = np.random.default_rng(12)
    for lam in (0.01, 0.7, 5.0, POISSON_INVERSION_MAX):
        x = poisson_by_inversion(rng.random(100_000), np.full(100_000, lam))
        top = int(stats.poisson.ppf(1 - 1e-4, lam))
        observed = np.bincount(np.minimum(x, top + 1), minlength=top + 2)
        expected = np.append(stats.poisson.pmf(np.arange(top + 1), lam), stats.poisson.sf(top, lam)) * len(x)
        keep = expected >= 5
        obs = np.append(observed[keep], observed[~keep].sum())
        exp = np.append(expected[keep], expected[~keep].sum())
        obs, exp = (obs, exp) if exp[-1] >= 5 else (obs[:-1], exp[:-1])
        assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 0.01, lam


def test_poisson_with_patient_streams_mixes_paths_and_keeps_owners_apart():
    """Small and large means in one call: each owner's draws are the same alone or with others."""
    from gistsim.streams import POISSON_INVERSION_MAX, poisson_by_inversion

    rng = np.random.default_rng(13)
    lam = np.concatenate([rng.uniform(0, 2, 30), rng.uniform(40, 90, 10)])
    owner = rng.integers(0, 3, len(lam))
    mixed = Draws(PatientStreams.from_ids(4, np.arange(3))).poisson(owner, lam)
    fresh = PatientStreams.from_ids(4, np.arange(3)).generators
    for k in range(3):
        mine = owner == k
        alone = Draws(PatientStreams.from_ids(4, np.arange(3))).poisson(owner[mine], lam[mine])
        assert (alone == mixed[mine]).all()
        # The owner's stream: uniforms for its small means first (inverted), then its generator's
        # Poisson for each large mean in element order.
        small, large = mine & (lam <= POISSON_INVERSION_MAX), mine & (lam > POISSON_INVERSION_MAX)
        u = fresh[k].random(int(small.sum()))
        assert (mixed[small] == poisson_by_inversion(u, lam[small])).all()
        assert (mixed[large] == [fresh[k].poisson(v) for v in lam[large]]).all()


@pytest.mark.parametrize("method", ["random", "poisson"])
def test_owners_already_grouped_draw_their_own_streams_numbers(method):
    # Owners in order skip the sort; each owner's numbers are still its own generator's.
    sizes = [3, 60, 1]
    owner = np.repeat(np.arange(len(sizes)), sizes)
    draws = Draws(PatientStreams.from_ids(2, np.arange(len(sizes))))
    lam = np.linspace(31.0, 80.0, len(owner))  # above the inversion limit: the generator's Poisson
    got = draws.random(owner) if method == "random" else draws.poisson(owner, lam)
    fresh = PatientStreams.from_ids(2, np.arange(len(sizes))).generators
    for k in range(len(sizes)):
        mine = owner == k
        expected = fresh[k].random(mine.sum()) if method == "random" else fresh[k].poisson(lam[mine])
        assert (got[mine] == expected).all()


def test_poisson_with_patient_streams_takes_arrays_of_any_shape():
    # Arrivals draw (pairs × nodes) at once; the inversion path must keep the shape and each
    # element's own mean (here: zero means give zeros wherever they sit).
    owner = np.array([[0, 0, 0], [1, 1, 1]])
    for lam in (np.array([[0.0, 3.0, 0.0], [2.0, 0.0, 5.0]]), np.array([[0.0, 3.0, 0.0], [2.0, 0.0, 50.0]])):
        out = Draws(PatientStreams.from_ids(1, np.arange(2))).poisson(owner, lam)
        assert out.shape == lam.shape and (out[lam == 0] == 0).all()
        flat = Draws(PatientStreams.from_ids(1, np.arange(2))).poisson(owner.ravel(), lam.ravel())
        assert (flat == out.ravel()).all()


def test_compiled_uniforms_leave_each_generator_where_numpy_would():
    # The uniforms come from a compiled loop over the generators' PCG64 states; afterwards every
    # generator must continue exactly as after numpy's own random(k) (any later draw, any method).
    owner = np.array([2, 0, 2, 1, 0, 2])
    streams = PatientStreams.from_ids(11, np.arange(3))
    assert streams.state_addresses is not None  # the compiled path is taken
    got = Draws(streams).random(owner)
    fresh = PatientStreams.from_ids(11, np.arange(3)).generators
    for k in range(3):
        assert (got[owner == k] == fresh[k].random(int((owner == k).sum()))).all()
        assert streams.generators[k].binomial(1000, 0.3, 5).tolist() == fresh[k].binomial(1000, 0.3, 5).tolist()
        assert streams.generators[k].random() == fresh[k].random()


def test_uniforms_from_other_bit_generators_and_from_a_copied_stream_are_their_own():
    import pickle

    owner = np.array([1, 0, 1, 1])
    philox = PatientStreams([np.random.Generator(np.random.Philox(s)) for s in (1, 2)])
    assert philox.state_addresses is None  # numpy's path
    got = Draws(philox).random(owner)
    assert (got[owner == 1] == np.random.Generator(np.random.Philox(2)).random(3)).all()
    # A copy (a block sent to a worker) looks up its own generators' states, not the original's.
    original = PatientStreams.from_ids(5, np.arange(2))
    assert original.state_addresses is not None and original.typed_generators is not None
    copy = pickle.loads(pickle.dumps(original))
    n, p = np.full(4, 1000), np.full(4, 0.4)
    first = Draws(copy).random(owner), Draws(copy).binomial(owner, n, p)
    fresh = Draws(PatientStreams.from_ids(5, np.arange(2)))
    assert (first[0] == fresh.random(owner)).all() and (first[1] == fresh.binomial(owner, n, p)).all()
    # The original's generators were untouched by the copy's draws.
    assert (Draws(original).random(owner) == first[0]).all()
    assert (Draws(original).binomial(owner, n, p) == first[1]).all()


def test_sibling_streams_leave_their_parents_alone_and_are_their_own():
    from gistsim.streams import sibling

    rng = np.random.default_rng(np.random.SeedSequence(8))
    before = rng.bit_generator.state
    a, b = sibling(rng, 3).random(4), sibling(rng, 3).random(4)
    assert rng.bit_generator.state == before and np.array_equal(a, b)
    assert not np.array_equal(a, sibling(rng, 4).random(4)) and not np.array_equal(a, rng.random(4))
    streams = PatientStreams.from_ids(2, np.array([7, 9]))
    streams.generators[0].random(5)  # where a parent stream stands does not matter
    kids = sibling(streams.remap(np.array([1, 0, 1])), 3)
    assert kids.index.tolist() == [1, 0, 1]
    assert kids.generators[1].random() == sibling(PatientStreams.from_ids(2, np.array([9])), 3).generators[0].random()
