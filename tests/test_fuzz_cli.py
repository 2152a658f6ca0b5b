"""The whole CLI under generated hostile input: no exit 4, no traceback, no raw escape written.

A fast sample of the strategies in tests/fuzz_cases.py (benchmarks/fuzz_cli.py runs 10,000 cases);
a few cases run through a real `python -m gpusetup` process, where streams are real files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpusetup
from gpusetup.cli import app
from tests.conftest import make_runner
from tests.fuzz_cases import (
    Case,
    any_case,
    broken_promise,
    doctor_case,
    inside,
    materialise,
    profiles_case,
    real_argv,
    report_case,
)

runner = make_runner()
FAST = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def run_in_process(case: Case) -> str | None:
    with tempfile.TemporaryDirectory(prefix="gpusetup-fuzz-") as where:
        argv = materialise(case, Path(where))
        with inside(Path(where)):
            result = runner.invoke(app, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"raised {type(result.exception).__name__}: {result.exception}"
    return broken_promise(result.exit_code, result.stdout, result.stderr, "--json" in argv)


@FAST
@given(doctor_case())
def test_doctor_replays_hostile_facts(case: Case) -> None:
    assert run_in_process(case) is None, case.argv


@FAST
@given(report_case())
def test_report_reads_hostile_reports(case: Case) -> None:
    assert run_in_process(case) is None, case.argv


@settings(FAST, max_examples=10)
@given(profiles_case())
def test_profiles_read_hostile_directories(case: Case) -> None:
    assert run_in_process(case) is None, case.argv


@settings(FAST, max_examples=10)
@given(any_case)
def test_any_command(case: Case) -> None:
    assert run_in_process(case) is None, case.argv


@settings(FAST, max_examples=2)
@given(st.one_of(doctor_case(), report_case()))
def test_a_real_process(case: Case) -> None:
    """Real streams: the encoding, the file descriptors and the exit code a shell sees."""
    with tempfile.TemporaryDirectory(prefix="gpusetup-fuzz-") as where:
        argv = materialise(case, Path(where))
        env = {**os.environ, "PYTHONPATH": str(Path(gpusetup.__file__).parents[1])}
        done = subprocess.run(
            [sys.executable, "-m", "gpusetup", *real_argv(argv)],
            capture_output=True,
            env=env,
            cwd=where,
            timeout=120,
            check=False,
        )
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    assert broken_promise(done.returncode, stdout, stderr, "--json" in argv) is None, case.argv
