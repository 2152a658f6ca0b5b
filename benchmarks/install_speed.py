"""`gpusetup install --dry-run --cuda 11.8` end to end vs `python -m pip --version`, same run.

Goal (issue #3): the dry run answers faster than pip starts. Prints medians and the ratio;
exit 1 if the goal is missed. Run: python3 benchmarks/install_speed.py [--runs 9]
"""

from __future__ import annotations

import argparse
import sys

from common import median, wall_times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    py = sys.executable
    commands = {
        "pip --version": [py, "-m", "pip", "--version"],
        "install --dry-run --cuda 11.8": [
            py,
            "-m",
            "gpusetup",
            "install",
            "--dry-run",
            "--cuda",
            "11.8",
        ],
    }
    for argv in commands.values():
        wall_times(argv, 1)  # warm caches for both alike
    medians = {name: median(wall_times(argv, args.runs)) for name, argv in commands.items()}
    reference = medians["pip --version"]
    for name, value in medians.items():
        print(f"{name:<32} median {value:6.3f} s   ratio to pip --version {value / reference:5.2f}")
    ok = medians["install --dry-run --cuda 11.8"] < reference
    print("goal met" if ok else "goal MISSED: the dry run must answer faster than pip --version")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
