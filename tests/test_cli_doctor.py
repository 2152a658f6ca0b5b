"""doctor through Typer's CliRunner and as a real `gpusetup` process: outputs and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpusetup.cli import app
from tests.conftest import FACT_FILES, FIXTURES, make_runner

runner = make_runner()
H100 = str(FIXTURES / "facts" / "handmade-h100-sxm-cu124.json")
CI = str(FIXTURES / "facts" / "recorded-ci-container-no-gpu-cpu-torch.json")


def test_healthy_replay_exits_0() -> None:
    result = runner.invoke(app, ["doctor", "--facts", H100])
    assert result.exit_code == 0, result.output
    assert "NVIDIA H100 80GB HBM3" in result.output and "no problems found" in result.output


def test_json_report_shape() -> None:
    result = runner.invoke(app, ["doctor", "--facts", CI, "--json"])
    report = json.loads(result.stdout)
    assert report["schema"] == "gpusetup.doctor/1" and report["exit_code"] == result.exit_code == 0
    assert set(report["findings"][0]) == {"id", "severity", "title", "evidence", "fix"}
    assert report["facts"]["schema"] == "gpusetup.facts/1"


def test_replaying_a_json_report_gives_the_same_findings(tmp_path: Path) -> None:
    first = json.loads(runner.invoke(app, ["doctor", "--facts", CI, "--json"]).stdout)
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(first))
    second = json.loads(runner.invoke(app, ["doctor", "--facts", str(saved), "--json"]).stdout)
    assert second["findings"] == first["findings"]


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    report = json.loads(Path(H100).read_text())
    report["facts"]["gpus"][0]["power_limit_w"] = 400.0
    path = tmp_path / "capped.json"
    path.write_text(json.dumps(report))
    assert runner.invoke(app, ["doctor", "--facts", str(path)]).exit_code == 0
    assert runner.invoke(app, ["doctor", "--facts", str(path), "--strict"]).exit_code == 1
    assert (
        runner.invoke(
            app, ["doctor", "--facts", str(path), "--strict", "--ignore", "power-capped"]
        ).exit_code
        == 0
    )


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda p: p.name)
def test_every_fixture_renders(path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--facts", str(path)])
    assert result.exit_code in (0, 1) and "gpusetup doctor" in result.output


def test_list_checks() -> None:
    result = runner.invoke(app, ["doctor", "--list-checks"])
    assert result.exit_code == 0 and "arch-not-in-build" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--facts", "/nonexistent.json"], "no such file"),
        (["--facts", "/"], "not a file"),
        (["--ignore", "no-such-check"], "no such check id"),
        (["--python", "/nonexistent/python"], "no such file"),
        (["--python", "/"], "is a directory"),
        (["--python", "/bin/ls"], "not a Python interpreter"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["doctor", *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a report doctor can read"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a gpusetup doctor report"),
        ('{"schema": "gpusetup.verify/1"}', "not a gpusetup doctor report"),
        ('{"schema": "gpusetup.facts/1", "gpus": "many"}', "facts.gpus: expected a list"),
        (
            '{"schema": "gpusetup.facts/1", "host": {"kernel": 5}}',
            "facts.host.kernel: expected a string",
        ),
    ],
)
def test_bad_facts_files_exit_2(content: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_text(content)
    result = runner.invoke(app, ["doctor", "--facts", str(path)])
    assert result.exit_code == 2 and message in result.stderr


def test_internal_error_is_exit_4_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("gpusetup.doctor.report.diagnose", boom)
    result = runner.invoke(app, ["doctor", "--facts", H100])
    assert result.exit_code == 4 and "internal error: RuntimeError: kaboom" in result.stderr
    assert "Traceback" not in result.stderr
    debug = runner.invoke(app, ["--debug", "doctor", "--facts", H100])
    assert debug.exit_code == 4 and "Traceback" in debug.stderr


def test_help_documents_exit_codes() -> None:
    result = runner.invoke(app, ["doctor", "--help"])
    assert result.exit_code == 0 and "2 bad usage" in result.output


def test_real_process_on_this_machine() -> None:
    """The installed console script, end to end, on a machine without a GPU: findings, exit 1."""
    exe = shutil.which("gpusetup") or ""
    argv = [exe] if exe else [sys.executable, "-m", "gpusetup"]
    result = subprocess.run(
        [*argv, "doctor", "--json", "--no-probe"], capture_output=True, text=True, timeout=60
    )
    report = json.loads(result.stdout)
    assert result.returncode == report["exit_code"]
    assert report["facts"]["torch"]["status"] == "not-run"


@pytest.mark.slow
def test_real_process_with_probe() -> None:
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, "-m", "gpusetup", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    assert report["facts"]["torch"]["status"] == "ok"
    assert report["facts"]["torch"]["version"].startswith("2.")
