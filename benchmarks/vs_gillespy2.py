"""gistsim's engine against GillesPy2 on one lesion: trajectories per second, and the law of R(730).

The model (a lesion of imatinib-sensitive cells S seeding resistant cells R):

    S → 2S at 0.04/day,  S → ∅ at 0.06/day,  S → S + R at 1e-7 per S cell per day,
    R → 2R at 0.04/day,  R → ∅ at 0.03/day,  S(0) = 1e9, R(0) = 0, over 730 days.

GillesPy2 runs it with its ``TauLeapingCSolver``, compiled once (the compilation is timed and
reported but not counted), at two tolerances: its default ``tau_tol`` = 0.03, where it is fast but
its tau-leaping is biased (R(730) about 1.8% low, many standard errors off the exact mean), and
``tau_tol`` = 0.01, where it is accurate enough that a KS test cannot tell it from exact sampling at
this sample size, and much slower. It simulates as many trajectories as fit in each budget
(``--gillespy2-seconds``; batches of ``--gillespy2-batch`` per ``run`` call, one seed per call).
The last line compares at the tightest tolerance: speed only means something between samplers
whose answers agree.

gistsim advances ``--gistsim-trajectories`` independent lesions at once, one lesion per
trajectory, as the clinic does: visits of 84 days (8 × 84 + 58 = 730). Best of ``--repeats``
repetitions; a single 730-day step is timed as a second figure.

Both samples of R(730) are compared with a two-sample Kolmogorov–Smirnov test and against the exact
mean and standard deviation of R(730), from the closed form

    E R(T) = ∫_0^T ν S0 e^{(b_S - d_S) s} e^{(b_R - d_R)(T - s)} ds
           = ν S0 e^{(b_R - d_R) T} (1 - e^{-((b_R - d_R) - (b_S - d_S)) T}) / ((b_R - d_R) - (b_S - d_S))

and from the (closed, linear) second-moment equations of the process. For GillesPy2 the script also
prints what a tau-leap with its fixed step τ should give on average (an exact recursion for this
linear model), which separates its discretisation error from sampling noise.

Run (after ``pip install -e '.[bench]'``)::

    python benchmarks/vs_gillespy2.py [--gillespy2-seconds 30 120] [--gistsim-trajectories 20000]
                                      [--repeats 3] [--tau-tol 0.03 0.01] [--seed 2026]

The last line is ``speedup=<gistsim rate / GillesPy2 rate> ks_p=<KS p-value>``. It takes about
3 minutes.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

# Single-threaded, so that the comparison is one core against one core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from gistsim.engine.clones import CloneTable  # noqa: E402
from gistsim.engine.rates import GenotypeRates, MutationModel  # noqa: E402
from gistsim.engine.step import advance  # noqa: E402

B_S, D_S = 0.04, 0.06
NU = 1e-7  # S → S + R, per S cell per day
B_R, D_R = 0.04, 0.03
S0 = 10**9
T_DAYS = 730.0
VISITS = [84.0] * 8 + [58.0]
GILLESPY2_DEFAULT_TAU_TOL = 0.03

# Reactions as (rate constant, index of the one reactant, change of (S, R)); propensity = c·x[s].
REACTIONS = [
    (B_S, 0, (1, 0)),
    (D_S, 0, (-1, 0)),
    (NU, 0, (0, 1)),
    (B_R, 1, (0, 1)),
    (D_R, 1, (0, -1)),
]


# --------------------------------------------------------------------------------------------
# Exact moments


def analytic_mean_r(t: float = T_DAYS) -> float:
    """E R(t) from the closed form in the module docstring."""
    r_s, r_r = B_S - D_S, B_R - D_R
    gap = r_r - r_s
    return NU * S0 * np.exp(r_r * t) * -np.expm1(-gap * t) / gap


def _drift_and_noise() -> tuple[np.ndarray, list[tuple[np.ndarray, float, int]]]:
    a = np.zeros((2, 2))
    noise = []
    for c, s, change in REACTIONS:
        v = np.array(change, dtype=float)
        a[:, s] += c * v
        noise.append((np.outer(v, v), c, s))
    return a, noise


def exact_moments_r(t: float = T_DAYS) -> tuple[float, float]:
    """(E R(t), SD R(t)) of the continuous-time process, from its moment equations.

    With linear propensities the equations close: dm/dt = A m and
    dC/dt = A C + C Aᵀ + Σ_j c_j m[s_j] ν_j ν_jᵀ, both exact (no approximation).
    """
    a, noise = _drift_and_noise()

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        m, c = y[:2], y[2:].reshape(2, 2)
        dc = a @ c + c @ a.T + sum(rate * m[s] * vv for vv, rate, s in noise)
        return np.concatenate([a @ m, dc.ravel()])

    y0 = np.concatenate([[float(S0), 0.0], np.zeros(4)])
    sol = solve_ivp(rhs, (0.0, t), y0, method="DOP853", rtol=1e-11, atol=1e-6)
    m, c = sol.y[:2, -1], sol.y[2:, -1].reshape(2, 2)
    return float(m[1]), float(np.sqrt(c[1, 1]))


def tau_leap_moments_r(tau: float, t: float = T_DAYS) -> tuple[float, float]:
    """(E R, SD R) at t of a Poisson tau-leap with fixed step ``tau`` (last step shortened).

    Each leap is x ← x + Σ_j ν_j Poisson(c_j x[s_j] τ), so m ← (I + τA) m and
    C ← (I + τA) C (I + τA)ᵀ + τ Σ_j c_j m[s_j] ν_j ν_jᵀ, exactly.
    """
    a, noise = _drift_and_noise()
    m, c = np.array([float(S0), 0.0]), np.zeros((2, 2))
    done = 0.0
    while done < t - 1e-12:
        h = min(tau, t - done)
        g = np.eye(2) + h * a
        c = g @ c @ g.T + h * sum(rate * m[s] * vv for vv, rate, s in noise)
        m = g @ m
        done += h
    return float(m[1]), float(np.sqrt(c[1, 1]))


def gillespy2_tau(tau_tol: float) -> float:
    """GillesPy2's leap for this model: tau_tol / d_S throughout.

    Its Cao–Gillespie–Petzold bound counts only reactions that consume a species (here S → ∅ and
    R → ∅), so the bound for S is (tau_tol·S)/(d_S·S) = tau_tol/d_S; the bound for R is
    tau_tol/d_R (or larger while R < 1/tau_tol), which is longer. Its "critical reaction" rule
    (a consuming reaction with < 10 molecules left) never triggers here: S stays ≫ 10 and R jumps
    from 0 to about ν·S0·τ ≈ 50 in the first leap.
    """
    return tau_tol / D_S


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children (GillesPy2's solver)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# --------------------------------------------------------------------------------------------
# GillesPy2


def _make_scons_findable() -> None:
    """Let GillesPy2 find SCons in a venv that is not activated.

    When ``scons`` is not on PATH, GillesPy2 runs ``<resolved sys.executable> -m SCons``, and
    resolving a venv's python symlink lands on the base interpreter, which lacks SCons. The venv's
    own ``bin`` (where pip put the ``scons`` script) is put first on PATH instead.
    """
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    if os.path.exists(os.path.join(bin_dir, "scons")):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def build_gillespy2_model():
    import gillespy2

    model = gillespy2.Model(name="single_lesion")
    model.add_parameter(
        [
            gillespy2.Parameter(name="b_s", expression=B_S),
            gillespy2.Parameter(name="d_s", expression=D_S),
            gillespy2.Parameter(name="nu", expression=NU),
            gillespy2.Parameter(name="b_r", expression=B_R),
            gillespy2.Parameter(name="d_r", expression=D_R),
        ]
    )
    model.add_species(
        [
            gillespy2.Species(name="S", initial_value=S0, mode="discrete"),
            gillespy2.Species(name="R", initial_value=0, mode="discrete"),
        ]
    )
    model.add_reaction(
        [
            gillespy2.Reaction(name="s_birth", reactants={"S": 1}, products={"S": 2}, rate="b_s"),
            gillespy2.Reaction(name="s_death", reactants={"S": 1}, products={}, rate="d_s"),
            gillespy2.Reaction(name="mutation", reactants={"S": 1}, products={"S": 1, "R": 1}, rate="nu"),
            gillespy2.Reaction(name="r_birth", reactants={"R": 1}, products={"R": 2}, rate="b_r"),
            gillespy2.Reaction(name="r_death", reactants={"R": 1}, products={}, rate="d_r"),
        ]
    )
    # Only the end point is recorded: output at t = 0 and t = 730.
    model.timespan(np.array([0.0, T_DAYS]))
    return model


def run_gillespy2(budget_s: float, batch: int, tau_tol: float, seed: int) -> dict:
    try:
        import gillespy2
    except ImportError:
        sys.exit("GillesPy2 is not installed: pip install -e '.[bench]'  (or pip install gillespy2)")
    _make_scons_findable()
    model = build_gillespy2_model()
    t0 = time.perf_counter()
    solver = gillespy2.TauLeapingCSolver(model=model)  # compiles the model's C++ simulation here
    compile_s = time.perf_counter() - t0

    r_end, s_end, run_s, cpu_s, calls = [], [], 0.0, 0.0, 0
    last = 0.0
    while run_s == 0.0 or run_s + last <= budget_s:
        c0 = _cpu_seconds()
        t0 = time.perf_counter()
        results = solver.run(number_of_trajectories=batch, seed=seed + calls, tau_tol=tau_tol)
        r_end += [float(traj["R"][-1]) for traj in results]
        s_end += [float(traj["S"][-1]) for traj in results]
        last = time.perf_counter() - t0
        run_s += last
        cpu_s += _cpu_seconds() - c0
        calls += 1
    r = np.array(r_end)
    if r.max() >= 2**31:
        print(f"WARNING: GillesPy2 R reached {r.max():.4g}, where its 32-bit state may have wrapped")
    return {
        "version": getattr(gillespy2, "__version__", "?"),
        "compile_s": compile_s,
        "run_s": run_s,
        "cpu_s": cpu_s,
        "calls": calls,
        "r": r,
        "s": np.array(s_end),
    }


# --------------------------------------------------------------------------------------------
# gistsim


def gistsim_model() -> tuple[GenotypeRates, MutationModel]:
    # Genotype 0 = S, 1 = R. The mutation rate is per division (mutants arrive at u·b·S), so
    # u = ν / b_S reproduces S → S + R at ν per S cell per day.
    rates = GenotypeRates(birth_per_day=np.array([[B_S, B_R]]), death_per_day=np.array([[D_S, D_R]]))
    mutation = MutationModel(mutant_of=np.array([[1], [-1]]), rate_per_division=np.array([NU / B_S]))
    return rates, mutation


def run_gistsim(n: int, schedule: list[float], seed: int) -> tuple[float, float, np.ndarray]:
    """Wall and CPU time of advancing n lesions over ``schedule`` (one ``advance`` each), and R(730)."""
    rates, mutation = gistsim_model()
    table = CloneTable.from_arrays(
        lesion=np.arange(n), genotype=np.zeros(n, dtype=np.int64), count=np.full(n, S0), n_genotypes=2
    )
    rng = np.random.default_rng(seed)
    c0 = _cpu_seconds()
    t0 = time.perf_counter()
    for days in schedule:
        advance(table, [days], rates, mutation, rng=rng)
    elapsed = time.perf_counter() - t0
    cpu = _cpu_seconds() - c0
    resistant = table.genotype == 1
    r = np.bincount(table.lesion[resistant], weights=table.count[resistant], minlength=n)
    return elapsed, cpu, r


def time_gistsim(n: int, schedule: list[float], repeats: int, seed: int):
    """Wall times, CPU times, and R(730) of the first repetition (each repetition has its own seed)."""
    times, cpus, first = [], [], None
    for rep in range(repeats):
        elapsed, cpu, r = run_gistsim(n, schedule, seed + rep)
        times.append(elapsed)
        cpus.append(cpu)
        if first is None:
            first = r
    return times, cpus, first


# --------------------------------------------------------------------------------------------
# Report


def describe(name: str, r: np.ndarray, mean_exact: float, sd_exact: float) -> None:
    n = len(r)
    mean, sd = r.mean(), r.std(ddof=1)
    se = sd / np.sqrt(n)
    z = (mean - mean_exact) / se
    q1, q2, q3 = np.quantile(r, [0.25, 0.5, 0.75])
    verdict = "within" if abs(z) <= 3 else "NOT within"
    print(
        f"  {name:<22} n={n:>6}  mean={mean:.6g}  (SE {se:.3g}; {mean / mean_exact - 1:+.3%} vs exact, "
        f"z={z:+.2f}: {verdict} 3 SE)"
    )
    print(
        f"  {'':<22} sd={sd:.4g} ({sd / sd_exact - 1:+.1%} vs exact)  "
        f"quartiles {q1:.6g} / {q2:.6g} / {q3:.6g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gillespy2-seconds", type=float, nargs="+", default=[30.0, 120.0],
        help="wall-time budget for GillesPy2 at each --tau-tol",
    )
    parser.add_argument(
        "--gillespy2-batch", type=int, default=100, help="trajectories per GillesPy2 run() call"
    )
    parser.add_argument(
        "--tau-tol", type=float, nargs="+", default=[GILLESPY2_DEFAULT_TAU_TOL, 0.01],
        help="GillesPy2 tau_tol values (its default, and one tight enough to be unbiased at this sample size)",
    )
    parser.add_argument("--gistsim-trajectories", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="gistsim repetitions (best time is used)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    wall0 = time.perf_counter()
    load_start = os.getloadavg()[0]

    mean_exact = analytic_mean_r()
    mean_ode, sd_exact = exact_moments_r()
    if len(args.tau_tol) != len(args.gillespy2_seconds):
        parser.error("give one --gillespy2-seconds budget per --tau-tol value")
    print(
        "Model: S→2S 0.04/d, S→∅ 0.06/d, S→S+R 1e-7/cell/d, R→2R 0.04/d, R→∅ 0.03/d; "
        "S0=1e9, R0=0, T=730 d"
    )
    print(
        f"Exact R(730): mean {mean_exact:.6g} (closed form; moment ODE {mean_ode:.6g}), sd {sd_exact:.4g}"
    )

    # ---- GillesPy2, at each tolerance asked for
    runs = []
    for tau_tol, budget in zip(args.tau_tol, args.gillespy2_seconds):
        tau = gillespy2_tau(tau_tol)
        mean_leap, sd_leap = tau_leap_moments_r(tau)
        g = run_gillespy2(budget, args.gillespy2_batch, tau_tol, args.seed + 1_000_000)
        g_rate = len(g["r"]) / g["run_s"]
        runs.append((tau_tol, tau, mean_leap, g, g_rate))
        print(f"\nGillesPy2 {g['version']} TauLeapingCSolver, tau_tol={tau_tol:g}")
        print(f"  compilation (once, not timed below): {g['compile_s']:.2f} s")
        print(
            f"  {len(g['r'])} trajectories in {g['run_s']:.2f} s ({g['calls']} run() calls of "
            f"{args.gillespy2_batch}): {g_rate:.4g} trajectories/s "
            f"(CPU {g['cpu_s']:.2f} s: {len(g['r']) / g['cpu_s']:.4g} per CPU-s)"
        )
        print(
            f"  Its leap here is τ = tau_tol/d_S = {tau:g} d ({int(np.ceil(T_DAYS / tau))} leaps per trajectory);"
            f" an exact tau-leap\n  recursion with that τ predicts mean R(730) {mean_leap:.6g} "
            f"({mean_leap / mean_exact - 1:+.2%} vs exact), sd {sd_leap:.4g}."
        )
    print(
        "\n  Notes: GillesPy2 keeps populations in 32-bit integers, which wrap above 2^31-2^32 cells; fine\n"
        "  here (S ≤ 1e9, R ≈ 5e6). Its tau-leaping is in its favourable regime: the high mutation rate\n"
        "  (100 mutants/day) carries R past its critical-reaction threshold (10) in the first leap."
    )

    # ---- gistsim
    n = args.gistsim_trajectories
    visit_times, visit_cpus, r_visits = time_gistsim(n, VISITS, args.repeats, args.seed)
    single_times, single_cpus, r_single = time_gistsim(n, [T_DAYS], args.repeats, args.seed + 100)
    rate_visits = n / min(visit_times)
    rate_single = n / min(single_times)
    print(f"\ngistsim engine, {n} trajectories (one lesion each) advanced together, best of {args.repeats}")
    print(
        f"  84-day visits (8×84 + 58 d): {', '.join(f'{t:.2f}' for t in visit_times)} s → "
        f"{rate_visits:.4g} trajectories/s\n  {'':<29}(best CPU {min(visit_cpus):.2f} s: "
        f"{n / min(visit_cpus):.4g} per CPU-s)"
    )
    print(
        f"  one 730-day step:            {', '.join(f'{t:.2f}' for t in single_times)} s → "
        f"{rate_single:.4g} trajectories/s\n  {'':<29}(best CPU {min(single_cpus):.2f} s: "
        f"{n / min(single_cpus):.4g} per CPU-s)"
    )

    # ---- Comparison
    print("\nR(730) samples against the exact mean and sd")
    describe("gistsim 84-day visits", r_visits, mean_exact, sd_exact)
    describe("gistsim one 730-d step", r_single, mean_exact, sd_exact)
    ks_internal = stats.ks_2samp(r_visits, r_single)
    print(f"  gistsim visits vs gistsim one step: KS D={ks_internal.statistic:.4f}  p={ks_internal.pvalue:.4g}")
    summary = []
    for tau_tol, tau, mean_leap, g, g_rate in runs:
        describe(f"GillesPy2 tau_tol={tau_tol:g}", g["r"], mean_exact, sd_exact)
        g_z_leap = (g["r"].mean() - mean_leap) / (g["r"].std(ddof=1) / np.sqrt(len(g["r"])))
        print(f"    against its own tau-leap prediction {mean_leap:.6g}: z={g_z_leap:+.2f}")
        ks = stats.ks_2samp(r_visits, g["r"])
        speedup = rate_visits / g_rate
        cpu_speedup = (n / min(visit_cpus)) / (len(g["r"]) / g["cpu_s"])
        print(
            f"    KS gistsim (visits) vs GillesPy2: D={ks.statistic:.4f} p={ks.pvalue:.4g}; speedup "
            f"{rate_visits:.4g} / {g_rate:.4g} = {speedup:.4g} (one 730-d step: {rate_single / g_rate:.4g}; "
            f"by CPU time: {cpu_speedup:.4g})"
        )
        summary.append((tau_tol, speedup, ks.pvalue))
    # The headline compares at the tightest tolerance: speed is only worth comparing between
    # samplers whose answers cannot be told apart (at looser tolerances tau-leaping is biased).
    tau_tol, speedup, ks_p = min(summary)
    print(
        f"\nheadline at tau_tol={tau_tol:g} (the tightest asked for): speedup {speedup:.4g}, KS p {ks_p:.4g}; "
        + "; ".join(f"tau_tol={t:g}: speedup {sp:.4g}, KS p {kp:.3g}" for t, sp, kp in summary)
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak_mb:,.0f} MB")
    print(
        f"total wall time {time.perf_counter() - wall0:.1f} s; 1-min load average {load_start:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end\n  ({os.cpu_count()} cores; this benchmark alone keeps it near 1, "
        "more means other work shared the machine)"
    )
    print(f"speedup={speedup:.4g} ks_p={ks_p:.4g}")


if __name__ == "__main__":
    main()
