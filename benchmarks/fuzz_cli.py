"""Run N generated hostile CLI cases (default 10,000) and count the ones that break a promise.

    python3 benchmarks/fuzz_cli.py [--cases N] [--seed S] [--real K]

Every case goes through the real CLI entry in-process (Typer's CliRunner), K of them (default 50)
through a real `python -m gpusetup` process too. A case breaks a promise when it exits 4, raises
(a traceback), hangs (60 s), writes a raw control character, or prints JSON with NaN/Infinity; the
target is 0. Prints the count per command and per kind of failure, and the first few failures.
"""

from __future__ import annotations

import argparse
import collections
import copy
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from tests.conftest import make_runner  # noqa: E402
from tests.fuzz_cases import (  # noqa: E402
    Case,
    any_case,
    broken_promise,
    inside,
    materialise,
    real_argv,
)

from gpusetup.cli import app  # noqa: E402

RUNNER = make_runner()


def _cache_packaged_profiles() -> None:
    """Parse the packaged profile files once: every case reads them, and they never change.
    Hostile profile directories of the cases are still parsed every time."""
    from gpusetup.profiles import load

    packaged = load.packaged_dir().resolve()
    parse = load.load_file
    cache: Dict[Tuple[Path, bool], Any] = {}

    def cached(path: Path, references: bool = True) -> Any:
        if path.resolve().parent != packaged:
            return parse(path, references)
        if (path, references) not in cache:
            cache[path, references] = parse(path, references)
        return copy.deepcopy(cache[path, references])

    load.load_file = cached  # type: ignore[assignment]


HANG_SECONDS = 60


class Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def run_in_process(case: Case) -> Optional[str]:
    with tempfile.TemporaryDirectory(prefix="gpusetup-fuzz-") as where:
        argv = materialise(case, Path(where))
        signal.alarm(HANG_SECONDS)
        try:
            with inside(Path(where)):
                result = RUNNER.invoke(app, argv)
        except Hang:
            return "hang"
        finally:
            signal.alarm(0)
    if isinstance(result.exception, Hang):
        return "hang"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"traceback: {type(result.exception).__name__}: {result.exception}"[:300]
    return broken_promise(result.exit_code, result.stdout, result.stderr, "--json" in argv)


def run_real(case: Case) -> Optional[str]:
    with tempfile.TemporaryDirectory(prefix="gpusetup-fuzz-") as where:
        argv = materialise(case, Path(where))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "gpusetup", *real_argv(argv)],
                capture_output=True,
                env=env,
                cwd=where,
                timeout=HANG_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "hang"
    out, err = (done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))
    return broken_promise(done.returncode, out, err, "--json" in argv)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts: Dict[str, int] = collections.Counter()
    failures: List[str] = []
    start = time.perf_counter()

    @settings(
        max_examples=args.cases,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @seed(args.seed)
    @given(any_case)
    def one(case: Case) -> None:
        real = counts["real"] < args.real and counts["cases"] % max(1, args.cases // args.real) == 0
        counts["cases"] += 1
        counts[f"command {case.argv[0]}"] += 1
        problem = run_in_process(case)
        if problem is None and real:
            counts["real"] += 1
            problem = run_real(case)
        if problem is not None:
            print(f"FAIL {case.argv!r:.200}\n    -> {problem[:300]}", flush=True)
            counts["broken"] += 1
            counts["broken: " + problem.split(":")[0]] += 1
            if len(failures) < 20:
                failures.append(f"{case.argv!r:.300}\n    -> {problem}")
        if counts["cases"] % 500 == 0:
            print(f"... {counts['cases']} cases, {counts['broken']} broken", flush=True)

    signal.signal(signal.SIGALRM, _alarm)
    _cache_packaged_profiles()
    one()
    seconds = time.perf_counter() - start
    for key in sorted(counts):
        print(f"{key:<36} {counts[key]}")
    for failure in failures:
        print("FAIL", failure)
    print(
        f"{counts['cases']} cases ({counts['real']} also as a real process) in {seconds:.0f} s: "
        f"{counts['broken']} ended in exit 4, a traceback, a hang or a raw escape"
    )
    return 1 if counts["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())
