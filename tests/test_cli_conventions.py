"""CLI conventions: -h, shell completion, real metavars, --version with the data's date, examples."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, List

import pytest
import typer
import yaml

from gpusetup import __version__
from gpusetup.cli import EXAMPLES, app
from tests.conftest import make_runner

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [[], ["doctor"], ["install"], ["verify"], ["report"], ["profiles"],
            ["profiles", "list"], ["profiles", "show"], ["profiles", "validate"]]  # fmt: skip
ENV = {"COLUMNS": "80", "NO_COLOR": "1"}


def _help(args: List[str], flag: str) -> Any:
    return make_runner().invoke(app, [*args, flag], env=ENV)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "gpusetup")
def test_dash_h_is_help(args: List[str]) -> None:
    short, long = _help(args, "-h"), _help(args, "--help")
    assert short.exit_code == long.exit_code == 0, short.output
    assert short.output == long.output and "Usage: gpusetup" in short.output
    assert "-h, --help" in short.output


def test_completion_is_offered_and_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "--install-completion" in _help([], "--help").output
    # typer finds the shell from the process tree (shellingham): a suite run by an orphaned or
    # daemonised process has no shell above it, so the shell is given here, not detected.
    import typer.completion

    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")
    shown = make_runner().invoke(app, ["--show-completion"], env=ENV)
    assert shown.exit_code == 0 and "_GPUSETUP_COMPLETE" in shown.output, shown.output


@pytest.mark.parametrize(
    ("command", "option", "metavar"),
    [
        ("doctor", "--python", "PATH"),
        ("doctor", "--timeout", "SECONDS"),
        ("doctor", "--expect-gpus", "N"),
        ("doctor", "--facts", "PATH"),
        ("install", "--torch", "VERSION"),
        ("install", "--cuda", "VERSION"),
        ("install", "--python-version", "VERSION"),
        ("install", "--driver", "VERSION"),
        ("verify", "--timeout", "SECONDS"),
        ("verify", "--expect-gpus", "N"),
        ("verify", "--junit", "PATH"),
    ],
)
def test_real_metavars(command: str, option: str, metavar: str) -> None:
    text = _help([command], "--help").output
    assert re.search(rf"^\s+{re.escape(option)} {re.escape(metavar)}\s", text, re.M), text


def test_no_str_or_float_metavar_left_on_the_options_set_here() -> None:
    for command in ("doctor", "verify", "report"):
        text = _help([command], "--help").output
        assert "<str>" not in text and "<float>" not in text, (command, text)


def test_version_names_the_profile_data_date() -> None:
    releases = yaml.safe_load((ROOT / "profiles" / "torch.yaml").read_text())["releases"]
    newest = max(str(r["released"]) for r in releases if r.get("released"))
    shown = make_runner().invoke(app, ["--version"])
    assert shown.exit_code == 0
    assert shown.output == f"gpusetup {__version__} (profile data: torch releases to {newest})\n"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_command_shows_its_examples_whole(name: str) -> None:
    text = _help([name], "--help").output
    assert "Examples:" in text
    lines = {line.strip() for line in text.splitlines()}
    for example in EXAMPLES[name].splitlines():
        assert example.strip() in lines, example  # not rewrapped by click
        assert len(f"    {example}") <= 80, example


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_parse(name: str) -> None:
    """Every example is a valid command line: its options exist and take what is given."""
    group = typer.main.get_command(app)
    for example in EXAMPLES[name].splitlines():
        words = shlex.split(example, comments=True)
        words = words[words.index("gpusetup") + 1 :]
        command: Any = group
        ctx = group.context_class(group, info_name="gpusetup")
        while hasattr(command, "commands"):  # a group (typer vendors its own click)
            command = command.get_command(ctx, words.pop(0))
            assert command is not None, example
        parsed = command.make_context(command.name, words, parent=ctx)
        assert not parsed.args, example  # nothing left over


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json", "--markdown"], "--json cannot be combined with --markdown"),
        (["--list-checks", "--json"], "--list-checks cannot be combined with --json"),
        (["--list-checks", "--markdown"], "--list-checks cannot be combined with --markdown"),
    ],
)
def test_doctor_outputs_are_one_at_a_time(args: List[str], message: str) -> None:
    """Two outputs asked at once: exit 2 and one line, never one of them silently dropped."""
    facts = str(ROOT / "tests" / "fixtures" / "facts" / "handmade-a100-sick-node.json")
    result = make_runner().invoke(app, ["doctor", "--facts", facts, *args], env=ENV)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_readme_counts_the_checks_doctor_has() -> None:
    """The README's "(N today)" for --list-checks drifted once (55 against 64): keep it measured."""
    from gpusetup.doctor.registry import all_ids

    said = re.search(r"lists every finding id \((\d+) today\)", (ROOT / "README.md").read_text())
    assert said is not None and int(said.group(1)) == len(all_ids())
