"""Every --json output is one envelope on stdout: its schema, the exit code, and on failure the error."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any, List

import pytest
import typer

from gpusetup.cli import EXIT_CODES, app
from gpusetup.commands.edge import cli_edge, emit_json, run_app
from gpusetup.errors import ExitCode, UsageError
from tests.conftest import FACT_FILES, FIXTURES, make_runner

runner = make_runner()
H100 = str(FIXTURES / "facts" / "handmade-h100-sxm-cu124.json")


def _envelope(stdout: str, command: str, code: int) -> dict[str, Any]:
    document = json.loads(stdout)
    assert document["schema"] == f"gpusetup.{command}/1"
    assert document["exit_code"] == code
    return dict(document)


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("doctor", ["doctor", "--facts", "/nonexistent.json"], "no such file"),
        ("doctor", ["doctor", "--ignore", "no-such-check"], "no such check id"),
        ("install", ["install", "--cuda", "abc"], "not a CUDA version"),
        ("install", ["install", "--print"], "--json cannot be combined with --print"),
        ("verify", ["verify", "--dtype", "fp7"], "unknown dtype fp7"),
        ("verify", ["verify", "--min-fraction", "7"], "must be a fraction of peak"),
        ("report", ["report", "/nonexistent.json"], "no such file"),
        ("report", ["report", "--threshold", "3"], "between 0 and 1"),
    ],
)
def test_a_failing_json_command_prints_the_error_envelope(
    command: str, args: List[str], message: str
) -> None:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2
    document = _envelope(result.stdout, command, 2)
    assert message in document["error"]["message"] and isinstance(document["error"]["hint"], str)
    assert message in result.stderr  # the text error stays on stderr


def test_profiles_validate_json_carries_the_problems(tmp_path: Path) -> None:
    bad = tmp_path / "torch.yaml"
    bad.write_text("schema: gpusetup.profile/1\nreleases: 5\n")
    result = runner.invoke(app, ["profiles", "validate", str(bad), "--json"])
    assert result.exit_code == 2
    document = _envelope(result.stdout, "profiles", 2)
    assert document["files"] == [str(bad)] and document["problems"]
    assert document["error"]["message"] == document["problems"][-1]


def test_profiles_validate_json_on_the_packaged_profiles() -> None:
    result = runner.invoke(app, ["profiles", "validate", "--json"])
    document = _envelope(result.stdout, "profiles", 0)
    assert result.exit_code == 0 and document["problems"] == [] and document["files"]
    assert "error" not in document


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda p: p.name)
def test_the_envelope_exit_code_is_the_process_exit_code(path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--facts", str(path), "--json"])
    document = _envelope(result.stdout, "doctor", result.exit_code)
    assert "error" not in document


@pytest.mark.parametrize(
    ("args", "command", "message"),
    [
        (["doctor", "--json", "--timeout", "x"], "doctor", "'x' is not a valid float"),
        (["install", "--json", "--bogus"], "install", "No such option: --bogus"),
        (["install", "--json", "--installer", "zzz"], "install", "'zzz' is not one of"),
        (["verify", "--json", "--timeout", "soon"], "verify", "is not a valid float"),
        (["report", "--json", "--threshold", "x"], "report", "is not a valid float"),
        (["profiles", "show", "--json"], "profiles", "No such option: --json"),
    ],
)
def test_a_parser_usage_error_under_json_prints_the_envelope(
    args: List[str], command: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        run_app(app, "gpusetup", args)
    assert done.value.code == 2
    out, err = capsys.readouterr()
    document = _envelope(out, command, 2)
    assert message in document["error"]["message"] and message in err


def test_a_parser_usage_error_without_json_leaves_stdout_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for args in (["doctor", "--timeout", "x"], ["doctor", "--", "--json"], ["--json"]):
        with pytest.raises(SystemExit) as done:
            run_app(app, "gpusetup", args)
        assert done.value.code == 2
        assert capsys.readouterr().out == ""


def test_run_app_keeps_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        run_app(app, "gpusetup", ["doctor", "--facts", H100, "--json"])
    assert done.value.code == json.loads(capsys.readouterr().out)["exit_code"]
    with pytest.raises(SystemExit) as done:
        run_app(app, "gpusetup", ["--version"])
    assert done.value.code == 0 and "gpusetup" in capsys.readouterr().out


def test_an_internal_error_under_json_is_exit_4_with_the_envelope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("gpusetup.doctor.report.diagnose", boom)
    result = runner.invoke(app, ["doctor", "--facts", H100, "--json"])
    assert result.exit_code == 4
    document = _envelope(result.stdout, "doctor", 4)
    assert document["error"]["message"] == "internal error: RuntimeError: kaboom"
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [(KeyboardInterrupt, ExitCode.SIGINT, "interrupted")],
)
def test_an_interrupt_under_json_is_its_signal_code_with_the_envelope(
    raised: type, code: int, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(*args: object, **kwargs: object) -> None:
        raise raised()

    monkeypatch.setattr("gpusetup.doctor.report.diagnose", stop)
    result = runner.invoke(app, ["doctor", "--facts", H100, "--json"])
    assert result.exit_code == code
    assert _envelope(result.stdout, "doctor", code)["error"]["message"] == message


demo = typer.Typer()


@demo.command()
@cli_edge(command="demo")
def late_failure(json_out: bool = typer.Option(False, "--json")) -> None:
    """A result, then a failure (as verify's --junit write can fail after the results)."""
    if json_out:
        emit_json({"schema": "gpusetup.demo/1", "results": [1, 2], "exit_code": 0})
    raise UsageError("could not write the file", "give a writable one")


def test_a_failure_after_the_result_gives_one_document_with_both() -> None:
    result = runner.invoke(demo, ["--json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)  # one document: json.loads refuses two
    assert list(document) == ["schema", "results", "exit_code", "error"]
    assert document["results"] == [1, 2] and document["exit_code"] == 2
    assert document["error"] == {
        "message": "could not write the file",
        "hint": "give a writable one",
    }


def test_without_json_nothing_is_printed_on_stdout() -> None:
    result = runner.invoke(demo, [])
    assert result.exit_code == 2 and result.stdout == ""
    assert "could not write the file" in result.stderr


def test_signal_exit_codes_are_128_plus_the_signal() -> None:
    assert ExitCode.SIGINT == 128 + signal.SIGINT
    assert ExitCode.SIGTERM == 128 + signal.SIGTERM
    assert ExitCode.SIGHUP == 128 + signal.SIGHUP
    assert ExitCode.PIPE_CLOSED == 128 + signal.SIGPIPE


def test_every_exit_code_is_documented_in_help_and_readme() -> None:
    """An exit-code rule lives in ExitCode; --help's epilog and the README's table must say each one."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Exit codes") :]
    section = section[: section.index("\n## ", 1)]
    epilog = " ".join(EXIT_CODES.split())
    for code in ExitCode:
        # the epilog says "· 2 bad usage", "130 Ctrl-C"; the README has a table row per code
        assert re.search(rf"(^|[:·,] ){code.value} \w", epilog), code
        assert f"\n| {code.value} | " in section, code
