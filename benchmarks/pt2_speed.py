"""PyTorch 2 speed goals (issue #11), each against `python -c "import torch"` in the same run:

- `verify --device cpu --quick` with its compile: within 30 s cold and 10 s warm (the caches the cold
  run filled); both printed as ratios to `import torch`. Cold means a fresh TORCHINDUCTOR_CACHE_DIR
  *and* a fresh TMPDIR: Inductor keeps its precompiled headers in <tempdir>/torchinductor_<user>
  whatever TORCHINDUCTOR_CACHE_DIR says, so a fresh cache directory alone is only half cold.
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


def fresh_caches(root: str) -> Dict[str, str]:
    """The environment whose Inductor (and Triton) caches all live under root, created empty."""
    tmp = os.path.join(root, "tmp")
    os.makedirs(tmp, exist_ok=True)
    return dict(
        os.environ,
        TMPDIR=tmp,
        TORCHINDUCTOR_CACHE_DIR=os.path.join(root, "inductor"),
        TRITON_CACHE_DIR=os.path.join(root, "triton"),
    )


def load() -> str:
    """The 1, 5 and 15 minute load averages: other jobs on the machine move every number here."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    verify = [py, "-m", "gpusetup", "verify", "--device", "cpu", "--quick", "--json"]
    import_torch = [py, "-c", "import torch"]
    print(f"load average at start: {load()}")
    wall_times(import_torch, 1)  # warm the page cache
    references = wall_times(import_torch, args.runs)
    cold: List[float] = []
    with tempfile.TemporaryDirectory(prefix="gpusetup-pt2-speed-") as scratch:
        for run in range(args.runs):  # each cold run gets fresh, empty caches
            cold += timed_with_env(verify, fresh_caches(os.path.join(scratch, f"cold{run}")), 1)
        warm = timed_with_env(verify, fresh_caches(os.path.join(scratch, "cold0")), args.runs)
    doctors = wall_times([py, "-m", "gpusetup", "doctor", "--json"], args.runs)
    references += wall_times(import_torch, args.runs)  # the load moves: reference before and after
    reference, doctor = median(references), median(doctors)
    for name, values in (("import torch", references), ("cold", cold), ("warm", warm)):
        print(f"{name:<14} runs: {' '.join(f'{v:.2f}' for v in values)}")
    print(f"{'doctor':<14} runs: {' '.join(f'{v:.2f}' for v in doctors)}")
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
    print(f"load average at end: {load()}")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
