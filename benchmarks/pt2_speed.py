"""PyTorch 2 speed goals (issue #11), each against `python -c "import torch"` in the same run:

- `verify --device cpu --quick` with its compile: within 30 s cold (a fresh Inductor cache) and 10 s warm
  (the cache the cold run filled); both printed as ratios to `import torch`.
- `doctor` with the compile facts: within 1.2x of `import torch`.
Prints medians and ratios; exit 1 if a goal is missed.
Run: python3 benchmarks/pt2_speed.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Sequence

from common import median, wall_times


def timed_with_env(argv: Sequence[str], env: Dict[str, str], runs: int) -> List[float]:
    """Wall seconds of each run of argv under env (output discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    verify = [py, "-m", "gpusetup", "verify", "--device", "cpu", "--quick", "--json"]
    import_torch = [py, "-c", "import torch"]
    wall_times(import_torch, 1)  # warm the page cache
    reference = median(wall_times(import_torch, args.runs))
    cold: List[float] = []
    with tempfile.TemporaryDirectory(prefix="gpusetup-pt2-speed-") as scratch:
        for run in range(args.runs):  # each cold run gets a fresh, empty Inductor cache
            env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=os.path.join(scratch, f"cold{run}"))
            cold += timed_with_env(verify, env, 1)
        warm_env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=os.path.join(scratch, "cold0"))
        warm = timed_with_env(verify, warm_env, args.runs)
    doctor = median(wall_times([py, "-m", "gpusetup", "doctor", "--json"], args.runs))
    rows = {
        "import torch": reference,
        "verify --quick cold": median(cold),
        "verify --quick warm": median(warm),
        "doctor": doctor,
    }
    for name, value in rows.items():
        print(f"{name:<22} median {value:7.2f} s   ratio to import torch {value / reference:6.2f}")
    goals = {
        "verify cold <= 30 s": rows["verify --quick cold"] <= 30,
        "verify warm <= 10 s": rows["verify --quick warm"] <= 10,
        "doctor <= 1.2x import torch": doctor <= 1.2 * reference,
    }
    for goal, met in goals.items():
        print(f"{'met   ' if met else 'MISSED'} {goal}")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
