"""Options are checked before any work: finite positive numbers, writable outputs, a bounded --python
check; a result that cannot be written is shown first, then one error line (exit 2, never 4)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

import gpusetup
from gpusetup.cli import app
from gpusetup.verify.config import expected_results, parse_dtypes
from tests.conftest import make_runner

runner = make_runner()
SRC = str(Path(gpusetup.__file__).resolve().parents[1])  # the gpusetup under test
NOT_POSITIVE = ["0", "-1", "nan", "inf", "-inf", "1e999"]


@pytest.mark.parametrize("value", NOT_POSITIVE)
@pytest.mark.parametrize("command", [["doctor"], ["verify", "--device", "cpu"]])
def test_timeout_must_be_finite_and_positive(command: List[str], value: str) -> None:
    result = runner.invoke(app, [*command, f"--timeout={value}"])
    assert result.exit_code == 2, result.output
    assert "--timeout" in result.stderr and "finite number above 0" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", NOT_POSITIVE)
def test_min_tflops_must_be_finite_and_positive(value: str) -> None:
    result = runner.invoke(app, ["verify", "--device", "cpu", "--min-tflops", f"bf16={value}"])
    assert result.exit_code == 2 and "finite number above 0" in result.stderr, result.output


@pytest.mark.parametrize("value", NOT_POSITIVE)
def test_min_fraction_must_be_a_finite_fraction(value: str) -> None:
    result = runner.invoke(app, ["verify", "--device", "cpu", f"--min-fraction={value}"])
    assert result.exit_code == 2 and "must be a fraction of peak" in result.stderr, result.output


def test_a_dtype_named_twice_runs_once() -> None:
    assert parse_dtypes("fp32,bf16,FP32, bf16", "quick") == ["fp32", "bf16"]
    assert expected_results(["cpu"], parse_dtypes("fp8,fp8", "quick")) == expected_results(
        ["cpu"], ["fp8"]
    )


def slow_python(tmp_path: Path) -> str:
    """Something that looks like an interpreter and never answers."""
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\nexec sleep 600\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize("command", [["doctor"], ["verify", "--device", "cpu"]])
def test_timeout_bounds_the_python_check(command: List[str], tmp_path: Path) -> None:
    """--timeout 2 with an interpreter that never answers: the check gives up at 2 s, not 30 s."""
    result = runner.invoke(app, [*command, "--python", slow_python(tmp_path), "--timeout", "2"])
    assert result.exit_code == 2 and "did not answer within 2 s" in result.stderr, result.output


def fake_python(tmp_path: Path) -> str:
    """An "interpreter" whose benchmark child reports one good row at once."""
    path = tmp_path / "python"
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-c" ]; then echo gpusetup-python-ok 3.11; exit 0; fi\n'
        "cat <<'END'\n"
        'GPUSETUP-DEVICE:{"gpu": -1, "name": "cpu", "torch": "stub"}\n'
        'GPUSETUP-RESULT:{"gpu": -1, "name": "cpu", "benchmark": "matmul", "dtype": "fp32",'
        ' "value": 0.5, "unit": "TFLOP/s", "ok": true}\n'
        "GPUSETUP-DONE:{}\n"
        "END\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_junit_file_that_cannot_be_written_keeps_the_results(tmp_path: Path) -> None:
    """/dev/full passes every check and then fails the write: results first, then one error line."""
    python = fake_python(tmp_path)
    argv = [sys.executable, "-m", "gpusetup", "verify", "--device", "cpu", "--json"]
    done = subprocess.run(
        [*argv, "--python", python, "--junit", "/dev/full"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=SRC),
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["results"][0]["value"] == 0.5
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--junit /dev/full" in errors[0] and "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_junit_directory_is_refused_before_the_run(tmp_path: Path) -> None:
    python = fake_python(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = runner.invoke(
            app,
            ["verify", "--device", "cpu", "--python", python, "--junit", str(locked / "v.xml")],
        )
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2 and "cannot create a file" in result.stderr


def test_a_junit_path_that_is_a_directory_is_refused_before_the_run(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["verify", "--device", "cpu", "--python", slow_python(tmp_path), "--junit", str(tmp_path)],
    )
    assert result.exit_code == 2 and "is a directory" in result.stderr  # the slow python never ran
