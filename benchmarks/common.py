"""Timing helpers for the benchmark scripts: whole commands, wall time, medians."""

from __future__ import annotations

import statistics
import subprocess
import time
from typing import List, Sequence


def wall_times(argv: Sequence[str], runs: int, timeout: float = 300) -> List[float]:
    """Wall-clock seconds of each run of argv (output discarded; any exit code accepted)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            list(argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
        times.append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
