"""`verify --device cpu` (and `--quick`) against `python -c "import torch"`, same run, interleaved.

Goal (issue #9): on the 2-core CI machine the matmul, convolution and memory rows of
`verify --device cpu` finish within 6 s, and with `--quick` within 4 s. The rows' time is the sum of
their `seconds` in the JSON report (each row from its start to its result, in the benchmark child);
the whole command's wall time, torch's import included, is printed beside it, and every figure as a
ratio to the wall time of `python -c "import torch"` measured in the same rounds (the machine's
speed at that moment). Exit 1 if a goal is missed or a run fails.
Run: python3 benchmarks/verify_cpu_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Dict, List, Tuple

from common import median

ROWS = ("matmul", "conv-fwd", "conv-bwd", "memory")
GOALS = {"verify --device cpu": 6.0, "verify --device cpu --quick": 4.0}


def timed_verify(argv: List[str]) -> Tuple[float, float]:
    """Wall seconds of one verify run, and the seconds of its matmul, convolution and memory rows."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[2:])} exited {done.returncode}: {done.stderr[-400:]}")
    report = json.loads(done.stdout)
    rows = sum(r["seconds"] for r in report["results"] if r["benchmark"] in ROWS)
    return wall, rows


def wall(argv: List[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, timeout=300, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    reference_argv = [py, "-c", "import torch"]
    commands = {name: [py, "-m", "gpusetup", *name.split(), "--json"] for name in GOALS}
    wall(reference_argv)  # warm the page cache for every side alike
    reference: List[float] = []
    walls: Dict[str, List[float]] = {name: [] for name in GOALS}
    rows: Dict[str, List[float]] = {name: [] for name in GOALS}
    for _ in range(args.runs):  # interleaved: a change in the machine's load hits every side
        reference.append(wall(reference_argv))
        for name, argv in commands.items():
            seconds, in_rows = timed_verify(argv)
            walls[name].append(seconds)
            rows[name].append(in_rows)
    base = median(reference)
    print(f"{'python -c import torch':<30} wall median {base:6.2f} s   ratio 1.00")
    ok = True
    for name, goal in GOALS.items():
        row_median, wall_median = median(rows[name]), median(walls[name])
        met = row_median <= goal
        ok = ok and met
        print(
            f"{name:<30} wall median {wall_median:6.2f} s   ratio {wall_median / base:5.2f}   "
            f"rows median {row_median:5.2f} s (max {max(rows[name]):5.2f})   ratio "
            f"{row_median / base:5.2f}   goal {goal:.0f} s {'met' if met else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
