"""Trial throughput: patients per second for the default trial, peak memory, and 2 workers vs 1.

Runs the built-in default trial (``focal-progression``: 4 arms, 10-year horizon, every line of
therapy) on ``--patients`` patients, once with one worker and once with two (a local Dask
cluster), into temporary folders, and checks the two results are identical. Peak memory is the
largest sampled sum of the resident sets of this process and all its descendants (the scheduler,
nannies and workers of the cluster included; see ``tree_memory.py``).

Blocks are the trial's own (1,000 patients: a block's fixed costs are per call, not per patient,
so 1,000-patient blocks ran ~1.6 times as many patients per second as 250-patient ones; see
docs/trials.md). The number of patients is the default trial's own (20,000) unless ``--patients``
says otherwise. A two-worker run pays a fixed start-up of 2.5–5 s (measured with Dask's task
stream: starting the cluster 0.7–1.8 s, each worker's imports 0.5 s, each worker's first block
about 1.2 s slower than the next while numba loads its cached kernels, and the last block running
alone); at 6,000 patients (about 35 s on two workers) that alone moved the ratio between 1.6 and
1.75 from run to run, at 20,000 it is a few percent of the run, as it is of any real trial.

It also prints both rates after each worker's first block, start-up left out (what a long run
would show), and their ratio.

Run: ``python benchmarks/trial.py [--patients N]`` (about 6 minutes at the default 20,000). The last line is
``patients_per_s=<n> peak_rss_mb=<n> speedup_2_workers=<n>``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from gistsim.trials.runner import run_trial
from gistsim.trials.spec import DEFAULT_TRIAL, load_trial
from tree_memory import TreeMemory


def read(folder: Path) -> pd.DataFrame:
    frames = [pq.read_table(p).to_pandas() for p in sorted(folder.glob("block-*.parquet"))]
    return pd.concat(frames).sort_values(["patient_id", "arm"]).reset_index(drop=True)


def steady_rate(marks: list[tuple[float, int]], workers: int) -> float | None:
    """Patients per second between the ``workers``-th block written (usually every worker's first
    is done by then) and the last; None with too few blocks."""
    if len(marks) <= workers:
        return None
    (t_start, n_start), (t_end, n_end) = marks[workers - 1], marks[-1]
    return (n_end - n_start) / (t_end - t_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=None, help="default: the default trial's own")
    parser.add_argument("--block-size", type=int, default=None, help="patients per block (default: the trial's own)")
    args = parser.parse_args()
    base = load_trial(DEFAULT_TRIAL)
    block = args.block_size or base.block_size
    n = args.patients or base.patients
    trial = base.model_validate({**base.model_dump(), "patients": n, "block_size": block})
    print(f"default trial {base.name}: {n} patients in blocks of {block}")
    seconds, steady = {}, {}
    with tempfile.TemporaryDirectory() as tmp, TreeMemory() as tree:
        for w in (1, 2):
            out = Path(tmp) / f"w{w}"
            marks: list[tuple[float, int]] = []
            t0 = time.perf_counter()
            run_trial(trial, out, workers=w, progress=lambda done, total: marks.append((time.perf_counter(), done)))
            seconds[w] = time.perf_counter() - t0
            print(f"{w} worker(s): {n} patients × {len(trial.arms)} arms in {seconds[w]:.1f} s "
                  f"({n / seconds[w]:.1f} patients/s)")  # fmt: skip
            steady[w] = steady_rate(marks, w)
        if steady[1] and steady[2]:
            # Start-up (the cluster, each worker's imports and kernel caches) left out: what the
            # figures would be over a long run.
            print(f"after each worker's first block: {steady[1]:.1f} / {steady[2]:.1f} patients/s on one / two "
                  f"workers, {steady[2] / steady[1]:.2f}x")  # fmt: skip
        same = read(Path(tmp) / "w1").equals(read(Path(tmp) / "w2"))
        print(f"results identical with 1 and 2 workers: {same}")
    largest = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"largest single process: {largest / 1024:.0f} MB; all processes together: {tree.peak_mb:.0f} MB")
    rate = n / seconds[2]
    print(f"patients_per_s={rate:.4g} peak_rss_mb={tree.peak_mb:.0f} speedup_2_workers={seconds[1] / seconds[2]:.3g}")


if __name__ == "__main__":
    main()
