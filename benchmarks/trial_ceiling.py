"""The fastest the default trial could run with the exact engine: its own clone-steps replayed on
the engine's compiled path, with nothing else.

Every clone of every lesion is advanced exactly at every step (DESIGN §3). This runs one block of
the default trial in this process, keeping every call to the engine (the clones before the step,
the pieces, the rate and mutation models), then replays exactly those steps on one random
generator, where the engine's loops are compiled (numba) and no per-patient stream is involved.
The replay's time per patient, divided among the cores, bounds the trial's speed from above: it
assumes everything else (the clinic, per-patient streams, imaging, decisions, Parquet) costs
nothing and that two cores run twice as fast as one.

Run: ``python benchmarks/trial_ceiling.py [--patients 500] [--cores 2]``. The last line is
``clone_steps_per_patient=<n> engine_ms_per_patient=<n> ceiling_patients_per_s=<n>``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import gistsim.clinic.course as course  # noqa: E402
import gistsim.engine.history as history  # noqa: E402
from gistsim.engine import step  # noqa: E402
from gistsim.trials.runner import run_block  # noqa: E402
from gistsim.trials.spec import DEFAULT_TRIAL, load_trial  # noqa: E402


def record_block(patients: int) -> tuple[list[tuple], float, float, int]:
    """One block of the default trial: every engine call (clones before it, pieces, rates,
    mutation), the block's seconds, the seconds inside the engine, and its randomised patients."""
    calls, inside = [], [0.0]

    def recorded(*args, **kwargs):
        table, durations, rates, mutation = args
        calls.append((table.copy(), durations, rates, mutation))
        t0 = time.perf_counter()
        report = step.advance(*args, **kwargs)
        inside[0] += time.perf_counter() - t0
        return report

    # The callers bind the engine's advance at import, so the recorder replaces their names.
    course.advance = history.advance = recorded
    try:
        base = load_trial(DEFAULT_TRIAL)
        spec = base.model_validate({**base.model_dump(), "patients": patients, "block_size": patients}).model_dump_json()
        t0 = time.perf_counter()
        rows = run_block(spec, 0)
        seconds = time.perf_counter() - t0
    finally:
        course.advance = history.advance = step.advance
    return calls, seconds, inside[0], sum(r["randomised"] for r in rows) // len(base.arms)


def replay(calls: list[tuple], seed: int) -> tuple[float, int]:
    """Seconds to advance the recorded steps again on one generator (compiled loops), and clone-steps."""
    rng = np.random.default_rng(seed)
    tables = [table.copy() for table, *_ in calls]
    t0, n = time.perf_counter(), 0
    for table, (_, durations, rates, mutation) in zip(tables, calls):
        n += step.advance(table, durations, rates, mutation, rng=rng).n_clone_steps
    return time.perf_counter() - t0, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500, help="patients in the recorded block")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    calls, seconds, engine_s, randomised = record_block(args.patients)
    print(f"[trial] {args.patients} patients ({randomised} randomised, 4 arms) in {seconds:.1f} s in this process "
          f"({args.patients / seconds:.0f} patients/s); {len(calls)} engine calls took {engine_s:.1f} s of it "
          "(per-patient streams; recording the clones adds a little)")  # fmt: skip
    best, steps = min(replay(calls, 2026 + k) for k in range(args.repeats))
    per_patient_ms = 1000 * best / args.patients
    ceiling = args.cores * args.patients / best
    print(f"[replay] the same steps on one generator (compiled): {best:.2f} s (best of {args.repeats}) for "
          f"{steps:,} clone-steps ({steps / best:,.0f} per second), {per_patient_ms:.2f} ms per patient; "
          f"{args.cores} cores with nothing else costing time: {ceiling:,.0f} patients/s")  # fmt: skip
    print(f"clone_steps_per_patient={steps / args.patients:.0f} engine_ms_per_patient={per_patient_ms:.3g} "
          f"ceiling_patients_per_s={ceiling:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
