"""Engine throughput: clone-steps per second on a realistic mix, against numpy's RNG floor.

Two mixes of clones are measured. ``issue`` (the last line) is the issue's: most clones large,
some tiny, some going extinct. ``history`` is what treatment meets in practice: patients with several liver lesions of 1e8–1e10 cells, each
lesion holding a large imatinib-sensitive clone that the drug kills, resistant subclones of every
size from one cell to millions (grown by the pre-treatment history sampler, so they are the sizes
Luria–Delbrück gives), a genotype registry with 8 secondary KIT mutations at 1e-9 per bp per
division, and 12-week steps; small clones go extinct and new mutants arrive every step.

The floor is the time numpy needs to make, for the same clones, the draws an exact step cannot
avoid: one binomial (surviving lineages) and one negative binomial (their offspring) per clone.
Both are timed in the same process, alternately, so machine noise hits both alike.

Run: ``python benchmarks/engine.py [--patients N] [--steps S] [--repeats R]``. The last line is
``clone_steps_per_s=<n> rng_floor_ratio=<engine time / floor time>``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from gistsim.biology.genotypes import default_registry  # noqa: E402
from gistsim.engine._kernels import BITS_MAX  # noqa: E402
from gistsim.engine.clones import CloneTable  # noqa: E402
from gistsim.engine.history import sample_history  # noqa: E402
from gistsim.engine.kendall import CELL_BY_CELL_MAX, compose_mh, survival_probability, use_normal_limit  # noqa: E402
from gistsim.engine.rates import GenotypeRates, MutationModel  # noqa: E402
from gistsim.engine.step import advance  # noqa: E402


def _treated_rates(reg, birth, death_untreated):
    """Under imatinib: the driver-only genotype dies fast; ATP-pocket mutants (V654A, T670I) are
    partly resistant; activation-loop mutants fully resistant (model_parameters.md §3a)."""
    death = death_untreated.copy()
    mask = reg.secondary_mask
    atp = sum(1 << k for k, s in enumerate(reg.secondary) if s.region == "ATP_pocket")
    death[0, mask == 0] = 0.04 + 0.05
    death[0, (mask & atp) != 0] = 0.04 + 0.01
    return GenotypeRates(birth, death)


def build_issue_mix(n_patients: int, seed: int):
    """The issue's mix: most clones large, some tiny, some going extinct.

    Per lesion (4 per patient): a drug-sensitive clone of 1e8–1e10 cells, three single mutants of
    1e5–1e8 cells (large), one single mutant of 1–100 cells (tiny) and one drug-sensitive double
    mutant of 1–30 cells (going extinct).
    """
    reg = default_registry()
    g = reg.n_genotypes
    rng = np.random.default_rng(seed)
    n_lesions = 4 * n_patients
    base = reg.code("KIT_exon11")
    singles = reg.mutant_of[base]
    per_lesion = 6
    genotype = np.empty((n_lesions, per_lesion), dtype=np.int64)
    count = np.empty((n_lesions, per_lesion))
    genotype[:, 0] = base
    count[:, 0] = np.exp(rng.uniform(np.log(1e8), np.log(1e10), n_lesions))
    pick = np.argsort(rng.random((n_lesions, len(singles))), axis=1)[:, :4]
    genotype[:, 1:5] = singles[pick]
    count[:, 1:4] = np.exp(rng.uniform(np.log(1e5), np.log(1e8), (n_lesions, 3)))
    count[:, 4] = rng.integers(1, 101, n_lesions)
    genotype[:, 5] = reg.code("KIT_exon11", ["V654A", "T670I"])
    clash = (genotype[:, 1:5] == genotype[:, 5:6]).any(axis=1)
    genotype[clash, 5] = reg.code("KIT_exon11", ["D816", "D820"])
    count[:, 5] = rng.integers(1, 31, n_lesions)
    lesion = np.repeat(np.arange(n_lesions), per_lesion)
    table = CloneTable.from_arrays(
        lesion=lesion, group=lesion // 4, genotype=genotype.ravel(), count=count.ravel().astype(np.int64), n_genotypes=g
    )
    birth = np.full((1, g), 0.04)
    rates = _treated_rates(reg, birth, np.full((1, g), 0.035))
    return table, rates, MutationModel.from_registry(reg, 1e-9, escape_target_bp=2.0)


def build_history_mix(n_patients: int, seed: int):
    """Clones at the start of treatment as the pre-treatment history leaves them (most small)."""
    reg = default_registry()
    g = reg.n_genotypes
    rng = np.random.default_rng(seed)
    base = reg.code("KIT_exon11")
    birth = np.full((1, g), 0.04)
    death_untreated = np.full((1, g), 0.035)
    mutation = MutationModel.from_registry(reg, 1e-9, escape_target_bp=2.0)
    lesions_per_patient = rng.integers(2, 7, n_patients)
    n_lesions = int(lesions_per_patient.sum())
    patient = np.repeat(np.arange(n_patients), lesions_per_patient)
    size = np.exp(rng.uniform(np.log(1e8), np.log(1e10), n_lesions))
    history = sample_history(
        lesion=np.arange(n_lesions),
        founder_genotype=np.full(n_lesions, base),
        size_cells=size,
        group=patient,
        rates=GenotypeRates(birth, death_untreated),
        mutation=mutation,
        n_genotypes=g,
        rng=rng,
    )
    return history.clones, _treated_rates(reg, birth, death_untreated), mutation


def time_engine(table: CloneTable, rates, mutation, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    clone_steps = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        clone_steps += advance(table, [84.0], rates, mutation, rng=rng).n_clone_steps
    return time.perf_counter() - t0, clone_steps


def floor_inputs(start: CloneTable, rates, mutation, steps: int, seed: int):
    """Per step: the clone sizes and Kendall parameters an exact step would draw from."""
    table, rng, out = start.copy(), np.random.default_rng(seed), []
    for _ in range(steps):
        b, d = rates.rates(table.group, table.genotype)
        m, h = compose_mh(np.array([84.0]), b, d)
        out.append((table.count.copy(), survival_probability(m, h), 1.0 / (1.0 + h)))
        advance(table, [84.0], rates, mutation, rng=rng)
    return out


def time_floor(inputs, seed: int) -> float:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for n, p_survive, p_nb in inputs:
        k = rng.binomial(n, p_survive)
        rng.negative_binomial(np.maximum(k, 1), p_nb)
    return time.perf_counter() - t0


def measure(name: str, builder, args) -> tuple[float, float]:
    t0 = time.perf_counter()
    start, rates, mutation = builder(args.patients, args.seed)
    print(f"[{name}] {args.patients} patients, {len(start)} clones at start, built in {time.perf_counter() - t0:.1f} s")
    inputs = floor_inputs(start, rates, mutation, args.steps, args.seed + 1)
    sizes = np.concatenate([n for n, _, _ in inputs])
    print(
        f"[{name}] clone sizes over the run: "
        + ", ".join(f"{q:.0%} ≤ {np.quantile(sizes, q):.3g}" for q in (0.1, 0.25, 0.5, 0.75, 0.9))
    )
    # Which way each clone-step's size is drawn (H = 1/q - 1 and m = p (1 + H) = p/q from the floor inputs).
    normal = np.concatenate([use_normal_limit(n, p / q, 1.0 / q - 1.0) for n, p, q in inputs])
    tiny = sizes <= CELL_BY_CELL_MAX
    bits = ~tiny & (sizes <= BITS_MAX)
    print(
        f"[{name}] clone-steps drawn by the skew-corrected normal: {normal.mean():.0%}; "
        f"survivors cell by cell (≤ {CELL_BY_CELL_MAX} cells): {(tiny & ~normal).mean():.0%}; "
        f"by the bit-parallel binomial (≤ {BITS_MAX} cells): {(bits & ~normal).mean():.0%}; "
        f"by numpy's binomial: {(~tiny & ~bits & ~normal).mean():.0%}"
    )
    engine_t, floor_t, n_steps = [], [], 0
    for rep in range(args.repeats):
        t, n_steps = time_engine(start.copy(), rates, mutation, args.steps, args.seed + 10 + rep)
        engine_t.append(t)
        floor_t.append(time_floor(inputs, args.seed + 20 + rep))
        print(f"[{name}] repeat {rep}: engine {t:.3f} s for {n_steps} clone-steps; floor {floor_t[-1]:.3f} s")
    best_engine, best_floor = min(engine_t), min(floor_t)
    rate = n_steps / best_engine
    # Per clone-step, since the floor's inputs come from a run with another seed.
    ratio = (best_engine / n_steps) / (best_floor / len(sizes))
    print(f"[{name}] engine {rate:,.0f} clone-steps/s (best of {args.repeats}); floor {len(sizes) / best_floor:,.0f} draw pairs/s")
    return rate, ratio


MIXES = {"issue": build_issue_mix, "history": build_history_mix}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--mix", choices=["both", *MIXES], default="both",
                        help="issue: most clones large (the issue's mix; last line); history: sizes as "
                        "the pre-treatment history leaves them (most clones small)")
    args = parser.parse_args()
    names = list(MIXES) if args.mix == "both" else [args.mix]
    results = {name: measure(name, MIXES[name], args) for name in reversed(names)}
    for name, (rate, ratio) in results.items():
        print(f"[{name}] clone_steps_per_s={rate:.4g} rng_floor_ratio={ratio:.3g}")
    rate, ratio = results[names[0]]
    print(f"clone_steps_per_s={rate:.4g} rng_floor_ratio={ratio:.3g}")


if __name__ == "__main__":
    main()
