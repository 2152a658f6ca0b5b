"""gpusetup's start-up with the typer it pins (< 0.29) against typer 0.29, same machine, same run.

Why the upper bound in pyproject.toml exists: typer 0.29 imports pydantic while parsing the command
line, on every command. Makes a venv that sees this interpreter's packages plus typer 0.29.2 (needs the
network once), times `doctor --facts FIXTURE --json` in both interleaved, prints medians and the ratio.
Run: python3 benchmarks/typer_startup.py [--runs 15] [--venv /tmp/gpusetup-typer029]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from common import median, wall_times

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/fixtures/facts/recorded-ci-container-no-gpu-cpu-torch.json"


def _venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True
        )
        subprocess.run([str(python), "-m", "pip", "install", "-q", "typer==0.29.2"], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--venv", default="/tmp/gpusetup-typer029")
    args = parser.parse_args()
    pythons = {"pinned typer": Path(sys.executable), "typer 0.29.2": _venv(Path(args.venv))}
    tail = ["-m", "gpusetup", "doctor", "--facts", str(FIXTURE), "--json"]
    times: dict[str, list[float]] = {name: [] for name in pythons}
    for _ in range(args.runs):  # interleaved: a busy machine slows both sides alike
        for name, python in pythons.items():
            times[name] += wall_times([str(python), *tail], 1)
    medians = {name: median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:<14} median {value:6.3f} s")
    print(f"ratio typer 0.29.2 / pinned: {medians['typer 0.29.2'] / medians['pinned typer']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
