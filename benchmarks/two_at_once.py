"""How much of a second core this machine gives: the same work run alone, then twice at once.

``speedup_2_workers`` in ``benchmarks/trial.py`` compares a trial on one worker with the same
trial on two. It cannot exceed what the machine gives two processes doing the trial's kind of work
at the same time: two cores share the last-level cache and the memory bus (and, on a shared virtual
machine, whatever the host gives them). This runs three kinds of work alone and then two copies at
once, in fresh processes, and prints how much faster the pair finished than two runs one after the
other (2 = a whole second core):

* ``python``: a pure-Python loop (registers and L1 only; the best case);
* ``numpy``: elementwise numpy on arrays of 200,000 floats (1.6 MB each, more than a core's L2,
  like the clone tables of a 1,000-patient block);
* ``block``: one block of the default trial (``--patients`` patients), the unit the trial's
  workers run; its first run in each process is a warm-up (imports, compiled-kernel caches).

Run: ``python benchmarks/two_at_once.py [--patients 1000]``. The last line is
``python_scaling=<n> numpy_scaling=<n> block_scaling=<n>``.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def python_work(_: int = 0) -> float:
    t0 = time.perf_counter()
    s = 0
    for i in range(15_000_000):
        s += i * i
    return time.perf_counter() - t0


def numpy_work(_: int = 0) -> float:
    import numpy as np

    a = np.random.default_rng(0).random(200_000)
    t0 = time.perf_counter()
    for _ in range(2_500):
        a = np.exp(a * 0.5) - a
    return time.perf_counter() - t0


def block_work(patients: int) -> float:
    from gistsim.trials.runner import run_block
    from gistsim.trials.spec import DEFAULT_TRIAL, load_trial

    base = load_trial(DEFAULT_TRIAL)
    trial = base.model_validate({**base.model_dump(), "patients": 10 * patients, "block_size": patients})
    spec = trial.model_dump_json()
    run_block(spec, 9)  # warm-up: imports and the compiled kernels' caches
    t0 = time.perf_counter()
    run_block(spec, 1)
    return time.perf_counter() - t0


def scaling(work, arg: int) -> tuple[float, float]:
    """(seconds alone, seconds of the slower of two at once), each in fresh processes."""
    ctx = get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        alone = pool.submit(work, arg).result()
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        pair = max(pool.map(work, [arg, arg]))
    return alone, pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000, help="patients in the trial block")
    args = parser.parse_args()
    ratios = {}
    for name, work, arg in (("python", python_work, 0), ("numpy", numpy_work, 0), ("block", block_work, args.patients)):
        alone, pair = scaling(work, arg)
        ratios[name] = 2 * alone / pair
        print(f"{name}: alone {alone:.2f} s, two at once {pair:.2f} s (slower of the two): "
              f"{ratios[name]:.2f}x the work of one in the same time")  # fmt: skip
    print(" ".join(f"{k}_scaling={v:.3g}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
