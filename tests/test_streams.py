"""The output edge: text from data is never markup or raw escapes, and failing streams end cleanly."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import gpusetup
from gpusetup.cli import app
from gpusetup.render.console import for_encoding, json_text, markdown_cell, visible
from tests.conftest import FIXTURES, make_runner

runner = make_runner()
SICK = FIXTURES / "facts" / "handmade-a100-sick-node.json"
SRC = str(Path(gpusetup.__file__).parents[1])  # the gpusetup under test, in the child too


def _facts(tmp_path: Path, change: Callable[[Any], None]) -> str:
    report = json.loads(SICK.read_text())
    change(report["facts"])
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(report))
    return str(path)


def _gpusetup(*argv: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": SRC, **kwargs.pop("env", {})}
    return subprocess.run(
        [sys.executable, "-m", "gpusetup", *argv],
        env=env,
        timeout=120,
        check=False,
        **{"capture_output": True, **kwargs},
    )


def test_visible_escapes_controls_but_keeps_lines() -> None:
    assert (
        visible("a\x1b[2Jb\rc\x9b\u202ed\ud800\ne\tf")
        == "a\\x1b[2Jb\\x0dc\\x9b\\u202ed\\ud800\ne\tf"
    )


def test_markup_and_escapes_in_a_gpu_name_are_printed_as_text(tmp_path: Path) -> None:
    def change(facts: Any) -> None:
        facts["gpus"][0]["name"] = "[/x][bold]A100\x1b[2J\x1b]0;pwned\x07"

    result = runner.invoke(app, ["doctor", "--facts", _facts(tmp_path, change)])
    assert result.exit_code == 1, result.output
    assert "GPU 0 ([/x][bold]A100\\x1b[2J\\x1b]0;pwned" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_a_host_name_with_markup_in_report_and_markdown(tmp_path: Path) -> None:
    def change(facts: Any) -> None:
        facts["host"]["hostname"] = "[/x]node|<img src=x>\x1b[31m"

    path = _facts(tmp_path, change)
    plain = runner.invoke(app, ["report", path])
    assert plain.exit_code == 1 and "[/x]node|<img src=x>\\x1b[31m" in plain.stdout
    markdown = runner.invoke(app, ["report", path, "--markdown"])
    assert "| [/x]node\\|&lt;img src=x&gt;\\\\x1b[31m |" in markdown.stdout
    assert "\x1b" not in plain.stdout + markdown.stdout


def test_markdown_cell_cannot_leave_its_cell() -> None:
    assert markdown_cell("a|b\nc<d>`") == "a\\|b c&lt;d&gt;\\`"


def test_fix_commands_quote_values_from_facts(tmp_path: Path) -> None:
    python = "/opt/my env/bin/python; rm -rf ~"

    def change(facts: Any) -> None:
        facts["torch"]["python"] = python
        facts["torch"]["torchvision_version"] = "0.1.0"

    report = json.loads(
        runner.invoke(app, ["doctor", "--facts", _facts(tmp_path, change), "--json"]).stdout
    )
    fixes = [f["fix"] for f in report["findings"] if "--python" in f["fix"]]
    assert fixes and all(shlex.quote(python) in fix for fix in fixes)


def test_cuda_home_fix_is_quoted(tmp_path: Path) -> None:
    def change(facts: Any) -> None:
        facts["toolkit"]["cuda_home"] = None
        facts["toolkit"]["nvcc"] = [{"path": "/opt/cu da/$(id)/bin/nvcc", "version": "12.2"}]

    report = json.loads(
        runner.invoke(app, ["doctor", "--facts", _facts(tmp_path, change), "--json"]).stdout
    )
    (fix,) = [f["fix"] for f in report["findings"] if f["id"] == "cuda-home-missing"]
    assert "export CUDA_HOME='/opt/cu da/$(id)' " in fix


def test_json_never_holds_nan() -> None:
    text = json_text({"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": -float("inf")}})
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": {"d": None}}


def test_ascii_fallbacks_under_an_ascii_stream(tmp_path: Path) -> None:
    done = _gpusetup("doctor", "--facts", str(SICK), env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 1, done.stderr
    done.stdout.decode("ascii")  # every byte is ASCII
    assert (
        b"-> exit 1" in done.stdout and b"Driver 535.104.05 - supports CUDA <= 12.2" in done.stdout
    )


def test_for_encoding_keeps_what_the_stream_can_write() -> None:
    assert for_encoding("✔ 40°C → é", "utf-8") == "✔ 40°C → é"
    assert for_encoding("✔ 40°C → é", "ascii") == "+ 40 degC -> \\xe9"


def test_a_closed_pipe_ends_quietly_with_141() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write gets EPIPE
    try:
        done = _gpusetup(
            "doctor", "--list-checks", stdout=write, capture_output=False, stderr=subprocess.PIPE
        )
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == b""


@pytest.mark.parametrize(
    ("stdout", "preexec", "message"),
    [
        ("/dev/full", None, b"cannot write to stdout: No space left on device"),
        (None, lambda: os.close(1), b"cannot write to stdout"),
    ],
)
def test_a_full_or_closed_stdout_is_one_line_and_exit_1(
    stdout: Optional[str], preexec: Optional[Callable[[], None]], message: bytes
) -> None:
    with open(stdout or os.devnull, "w") as target:
        done = _gpusetup(
            "doctor",
            "--facts",
            str(SICK),
            stdout=target if stdout else None,
            capture_output=False,
            stderr=subprocess.PIPE,
            preexec_fn=preexec,
        )
    assert done.returncode == 1
    assert done.stderr.count(b"\n") == 1 and message in done.stderr
    assert b"internal error" not in done.stderr and b"Exception ignored" not in done.stderr


def test_a_usage_error_exits_2_with_stderr_closed() -> None:
    done = _gpusetup(
        "doctor",
        "--no-such-option",
        capture_output=False,
        stdout=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(2),
    )
    assert done.returncode == 2


def test_a_usage_error_exits_2_with_stderr_unwritable() -> None:
    with open(os.devnull) as read_only:  # what `2>&-` in a shell can leave: fd 2 not writable
        done = _gpusetup(
            "doctor",
            "--no-such-option",
            stdout=subprocess.DEVNULL,
            stderr=read_only,
            capture_output=False,
        )
    assert done.returncode == 2


def test_verify_output_prints_device_names_and_reasons_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gpusetup.render.console import make_console
    from gpusetup.render.verify import render_verify
    from gpusetup.verify.score import Row, VerifyResult

    name = "[/x]H100\x1b]0;t\x07"
    row = Row(0, name, "matmul", "bf16", float("nan"), "TFLOP/s", None, None, False, "[red]\x1b[2J")
    result = VerifyResult("0", "quick", [row], devices=[{"gpu": 0, "name": name, "torch": "2"}])
    render_verify(result, make_console())
    out = capsys.readouterr().out
    assert "GPU 0: [/x]H100\\x1b]0;t" in out and "[red]\\x1b[2J" in out and "\x1b" not in out
    assert (
        json.loads(json_text(result.to_dict()), parse_constant=_refuse)["results"][0]["value"]
        is None
    )


def _refuse(name: str) -> None:
    raise ValueError(name)
