"""Peak resident memory of this process and all its descendants together, sampled.

``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the largest *single* child, so with a Dask
cluster (a scheduler, a nanny and a worker per process) it understates what the run holds at
once. This samples the sum over the process tree every ``interval`` seconds in a thread; a peak
shorter than the interval can be missed, so the figure is a lower bound, close for runs whose
memory changes over seconds (blocks of patients), not milliseconds.

psutil comes with dask.distributed, a dependency of gistsim.
"""

from __future__ import annotations

import threading

import psutil


class TreeMemory:
    """Context manager; ``peak_mb`` is the largest sampled sum of RSS over the tree (MiB)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> float:
        root = psutil.Process()
        total = 0
        for p in [root, *root.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass  # a worker that ended between listing and reading
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._sample())
