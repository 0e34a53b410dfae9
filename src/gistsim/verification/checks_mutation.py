"""Checks 5–6: mutants before treatment (Luria–Delbrück with death) and during treatment."""

from __future__ import annotations

import math

import numpy as np

from gistsim.engine import arrivals as engine_arrivals
from gistsim.engine import reference
from gistsim.engine.history import sample_history
from gistsim.engine.kendall import phi
from gistsim.engine.rates import GenotypeRates
from gistsim.verification import exact
from gistsim.verification.checks_birth_death import _n
from gistsim.verification.sampling import (
    engine_samples,
    per_lesion_counts,
    reference_samples,
    rngs,
    two_type_mutation,
)
from gistsim.verification.stats import binomial_test, chi2_two_sample, mean_z, z_p_value
from gistsim.verification.verdict import SubTest, Verdict, combine


def _history(
    n_lesions: int, size: int, birth: list[float], death: list[float], u: float, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Engine: (counts (n, 2), founders tried) of ``n_lesions`` lesions grown from one S cell."""
    hist = sample_history(
        lesion=np.arange(n_lesions),
        founder_genotype=np.zeros(n_lesions, dtype=np.int64),
        size_cells=np.full(n_lesions, float(size)),
        rates=GenotypeRates(np.array([birth]), np.array([death])),
        mutation=two_type_mutation(u),
        n_genotypes=2,
        rng=rng,
    )
    return per_lesion_counts(hist.clones, n_lesions), hist.founders_tried


def check_luria_delbruck(level: str, seed: int) -> Verdict:
    """5. Resistant cells at diagnosis from :func:`sample_history`.

    (a) With death (b = 1, d = 0.25, neutral R): the law of R against ``reference.grow_to_size``
        (χ² two-sample). The engine stops at a random total ≥ 99% of the target, the reference at
        the first passage of a size; so each reference trajectory is grown to the realised total of
        an *extra* engine lesion (not one of those compared), which gives both samples the same
        law of the final size while keeping them independent.
    (b) A case with an exact answer: S births at rate b, no death, R births at rate b(1+u). Every
        cell then makes a new cell at rate b(1+u), the total is a Yule process whatever the mix,
        and each new cell is a mutant with probability u/(1+u) while R = 0, independently of the
        timing. Hence P(R = 0 | total T) = (1+u)^-(T-1) exactly, for any stopping rule based on the
        total. Engine: z-test of the number of lesions with R = 0 against the Poisson-binomial
        mean Σ p_i and variance Σ p_i(1 - p_i); reference (stopped at T = M): binomial test.
    """
    size = _n(level, 1_000, 3_000)
    n_eng = _n(level, 6_000, 60_000)
    n_ref = _n(level, 1_500, 8_000)
    n_eng_b = _n(level, 6_000, 60_000)
    n_ref_b = _n(level, 1_000, 5_000)
    u = 3.0 / size
    rng_e, rng_r, rng_eb, rng_rb = rngs(seed, 4)
    subtests = []

    # (a) Luria–Delbrück with death, against the reference at matched sizes.
    b, d = 1.0, 0.25
    counts, tried = _history(n_eng + n_ref, size, [b, b], [d, d], u, rng_e)
    eng, extra_totals = counts[:n_eng], counts[n_eng:].sum(axis=1)
    mutation = two_type_mutation(u)
    ref = np.array(
        [
            reference.grow_to_size(0, int(t), np.array([b, b]), np.array([d, d]), mutation, rng_r)
            for t in extra_totals
        ]
    )
    stat, df, p = chi2_two_sample(eng[:, 1], ref[:, 1])
    subtests.append(
        SubTest(
            f"b={b} d={d} M={size} u={u:.2g}: law of R, engine vs reference",
            f"chi2 = {stat:.1f} (df {df})",
            p,
        )
    )

    # (b) Exact P(R = 0 | T) in the Yule case.
    bb = 1.0
    counts_b, _ = _history(n_eng_b, size, [bb, bb * (1 + u)], [0.0, 0.0], u, rng_eb)
    totals = counts_b.sum(axis=1)
    p_zero = (1.0 + u) ** -(totals - 1.0)
    observed = int((counts_b[:, 1] == 0).sum())
    z = (observed - p_zero.sum()) / math.sqrt((p_zero * (1 - p_zero)).sum())
    subtests.append(
        SubTest(
            f"Yule M={size} u={u:.2g}: engine #(R=0) = {observed} vs {p_zero.sum():.1f} of {n_eng_b}",
            f"z = {z:+.2f} (Poisson-binomial)",
            z_p_value(z),
        )
    )
    ref_b = [
        reference.grow_to_size(0, size, np.array([bb, bb * (1 + u)]), np.zeros(2), mutation, rng_rb)
        for _ in range(n_ref_b)
    ]
    zeros = sum(int(c[1] == 0) for c in ref_b)
    p_m = (1.0 + u) ** -(size - 1.0)
    subtests.append(
        SubTest(
            f"Yule M={size} u={u:.2g}: reference P(R=0) = {zeros / n_ref_b:.4f} vs {p_m:.4f}",
            "binomial",
            binomial_test(zeros, n_ref_b, p_m),
        )
    )
    detail = (
        f"(a) {n_eng} engine lesions, {n_ref} reference lesions; engine final size / M: "
        f"{np.quantile(eng.sum(axis=1) / size, [0.0, 0.5, 1.0]).round(3).tolist()} (min, median, max); "
        f"P(R=0) engine {np.mean(eng[:, 1] == 0):.4f}, reference {np.mean(ref[:, 1] == 0):.4f}; "
        f"median R engine {np.median(eng[:, 1]):.0f}, reference {np.median(ref[:, 1]):.0f}; "
        f"mean founders tried {tried[:n_eng].mean():.3f} (expected b/r = {b / (b - d):.3f})\n"
        f"(b) {n_eng_b} engine lesions, {n_ref_b} reference lesions"
    )
    return combine(
        "luria_delbruck", "chi2, z and binomial on resistant cells at diagnosis", subtests, detail=detail
    )


#: Treatment: S killed by the drug, R resistant and growing. Rates per day (on drug, off drug).
TREATMENT = {"b_s": (0.05, 0.06), "d_s": (0.25, 0.01), "b_r": (0.08, 0.06), "d_r": (0.03, 0.01)}
#: (label, durations, target bound n0·u·∫b·M on candidate arrivals). The bound decides the
#: engine's path (one generator): exact thinning below ``THINNING_BELOW`` (10), Gauss–Legendre
#: quadrature above.
TREATMENT_CASES = [
    ("one piece, quadrature", [14.0], 35.0),
    ("two pieces, quadrature", [14.0, 7.0], 35.0),
    ("one piece, thinning", [14.0], 5.0),
]


def _variance_ratio(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """var(x)/var(y) and its standard error (delta method, kurtosis from the samples)."""

    def rel_var_of_var(a: np.ndarray) -> float:
        c = a - a.mean()
        s2 = np.mean(c * c)
        return float((np.mean(c**4) / s2**2 - 1.0) / len(a))

    ratio = float(np.var(x, ddof=1) / np.var(y, ddof=1))
    return ratio, ratio * math.sqrt(rel_var_of_var(x) + rel_var_of_var(y))


def check_treatment_mutants(level: str, seed: int) -> Verdict:
    """6. Mutant arrivals during treatment against the reference, small declining S, high u.

    For each case: the laws of R(T) and S(T), engine vs reference (χ² two-sample), and the mean of
    R(T) from each against the exact linear-ODE mean. The detail line reports var R(T) engine /
    reference with its standard error: the measured effect of the engine's expected-path
    approximation (arrivals driven by E N(s) instead of the realised N(s)).
    """
    s0 = _n(level, 500, 2_000)
    n_eng = _n(level, 20_000, 200_000)
    n_ref = _n(level, 1_200, 8_000)
    threshold = engine_arrivals.THINNING_BELOW
    streams = rngs(seed, 2 * len(TREATMENT_CASES))
    subtests, problems, notes = [], [], []
    for i, (label, durations, target) in enumerate(TREATMENT_CASES):
        pieces = len(durations)
        b_s, d_s = list(TREATMENT["b_s"][:pieces]), list(TREATMENT["d_s"][:pieces])
        b_r, d_r = list(TREATMENT["b_r"][:pieces]), list(TREATMENT["d_r"][:pieces])
        # ∫ b_S · E S(s)/S0 ds over the pieces, to set u from the target bound.
        supply, growth = 0.0, 1.0
        for k, tau in enumerate(durations):
            supply += b_s[k] * growth * float(phi(b_s[k] - d_s[k], tau))
            growth *= math.exp((b_s[k] - d_s[k]) * tau)
        u = target / (s0 * supply)
        bound = s0 * u * supply
        if (bound >= threshold) != ("quadrature" in label):
            problems.append(
                f"{label}: bound {bound:.1f} vs THINNING_BELOW {threshold} selects the other path"
            )
        birth, death = np.column_stack([b_s, b_r]), np.column_stack([d_s, d_r])
        mutation = two_type_mutation(u)
        eng = engine_samples(n_eng, [s0, 0], durations, birth, death, mutation, streams[2 * i])
        ref = reference_samples(n_ref, [s0, 0], durations, birth, death, mutation, streams[2 * i + 1])
        mean_r = exact.expected_mutants(s0, 0, durations, b_s, d_s, b_r, d_r, u)
        name = f"{label} (S0={s0}, u={u:.3g})"
        for g, species in ((1, "R"), (0, "S")):
            stat, df, p = chi2_two_sample(eng[:, g], ref[:, g])
            subtests.append(
                SubTest(f"{name}: {species}(T) engine vs reference", f"chi2 = {stat:.1f} (df {df})", p)
            )
        for who, a in (("engine", eng), ("reference", ref)):
            z, p = mean_z(a[:, 1], mean_r)
            subtests.append(
                SubTest(f"{name}: mean R(T) {who} {a[:, 1].mean():.3f} vs {mean_r:.3f}", f"z = {z:+.2f}", p)
            )
        ratio, se = _variance_ratio(eng[:, 1], ref[:, 1])
        notes.append(f"{label}: bound {bound:.1f}; var R(T) engine/reference = {ratio:.3f} ± {se:.3f}")
    detail = (
        f"S on/off b={TREATMENT['b_s']} d={TREATMENT['d_s']}; R b={TREATMENT['b_r']} d={TREATMENT['d_r']}; "
        f"pieces 14 d on, 7 d off; {n_eng} engine, {n_ref} reference replicates per case\n" + "\n".join(notes)
    )
    return combine(
        "treatment_mutants",
        "chi2 and z on R(T), S(T) during treatment",
        subtests,
        detail=detail,
        problems=problems,
    )
