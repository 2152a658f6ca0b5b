"""doctor vs `python -m torch.utils.collect_env` in the same environment, same run.

Goal (issue #2): doctor (torch probe included) takes less wall time than collect_env, and
`doctor --no-probe` under a third of it. Prints medians and the ratios; exit 1 if a goal is missed.
Run: python3 benchmarks/doctor_speed.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import sys

from common import median, wall_times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    commands = {
        "collect_env": [py, "-m", "torch.utils.collect_env"],
        "doctor": [py, "-m", "gpusetup", "doctor", "--json"],
        "doctor --no-probe": [py, "-m", "gpusetup", "doctor", "--json", "--no-probe"],
    }
    print("load average at start: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    wall_times(commands["doctor"], 1)  # warm the page cache for both sides alike
    wall_times(commands["collect_env"], 1)
    medians = {name: median(wall_times(argv, args.runs)) for name, argv in commands.items()}
    reference = medians["collect_env"]
    for name, value in medians.items():
        print(f"{name:<20} median {value:6.3f} s   ratio to collect_env {value / reference:5.2f}")
    ok = medians["doctor"] < reference and medians["doctor --no-probe"] < reference / 3
    print(
        "goal met" if ok else "goal MISSED: doctor < collect_env and --no-probe < collect_env / 3"
    )
    print("load average at end: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
