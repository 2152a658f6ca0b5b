"""The one rule for the target interpreter: --python, $VIRTUAL_ENV, $CONDA_PREFIX, tool env, self."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpusetup
from gpusetup.cli import app
from gpusetup.errors import UsageError
from gpusetup.facts.target import (
    Target,
    TargetReason,
    checked_target,
    choose_target,
    tool_environment,
)
from tests.conftest import make_runner
from tests.fakes.stub_envs import make_env

runner = make_runner()
SRC = str(Path(gpusetup.__file__).resolve().parents[1])  # the gpusetup under test, for PYTHONPATH
ROOT = Path(__file__).resolve().parents[1]  # the project to install
PYTHON2 = (
    "#!/bin/sh\n# answers gpusetup's check as Python 2.7 does\necho 'gpusetup-python-ok 2.7'\n"
)


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_option_path_is_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = choose_target(".venv/bin/python", {}, "/self/python", "/self")
    assert target == Target(
        str(tmp_path / ".venv/bin/python"), TargetReason.OPTION, ".venv/bin/python"
    )


def test_option_bare_name_is_looked_up_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(tmp_path / "python3.99", "#!/bin/sh\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert choose_target("python3.99", {}, "/self/python", "/self").path == str(
        tmp_path / "python3.99"
    )


@pytest.mark.parametrize(
    ("environ", "reason", "path"),
    [
        ({"VIRTUAL_ENV": "/v", "CONDA_PREFIX": "/c"}, TargetReason.VIRTUAL_ENV, "/v/bin/python"),
        ({"CONDA_PREFIX": "/c"}, TargetReason.CONDA, "/c/bin/python"),
        ({}, TargetReason.SELF, "/self/bin/python"),
        ({"VIRTUAL_ENV": ""}, TargetReason.SELF, "/self/bin/python"),
    ],
)
def test_rule_order(environ: Dict[str, str], reason: TargetReason, path: str) -> None:
    target = choose_target(None, environ, "/self/bin/python", "/self")
    assert (target.reason, target.path) == (reason, path)


def test_active_venv_that_runs_gpusetup_is_this_interpreter(tmp_path: Path) -> None:
    target = choose_target(None, {"VIRTUAL_ENV": str(tmp_path)}, "/x/python3", str(tmp_path))
    assert target == Target("/x/python3", TargetReason.VIRTUAL_ENV, str(tmp_path))


@pytest.mark.parametrize(
    ("marker", "tool"), [("pipx_metadata.json", "pipx"), ("uv-receipt.toml", "uv tool")]
)
def test_tool_env_is_known_by_its_marker_not_its_path(
    marker: str, tool: str, tmp_path: Path
) -> None:
    env = tmp_path / "anywhere" / "gpusetup"  # a custom PIPX_HOME / UV_TOOL_DIR
    env.mkdir(parents=True)
    assert tool_environment(str(env)) is None
    (env / marker).write_text("{}")
    assert tool_environment(str(env)) == tool
    other = tmp_path / "bin"
    other.mkdir()
    _script(other / "python3", "#!/bin/sh\n")
    target = choose_target(None, {"PATH": str(other)}, str(env / "bin" / "python"), str(env))
    assert target == Target(str(other / "python3"), TargetReason.TOOL_ENV, tool)


def test_tool_env_without_another_python3_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pipx_metadata.json").write_text("{}")
    (tmp_path / "bin").mkdir()
    _script(tmp_path / "bin" / "python3", "#!/bin/sh\n")
    with pytest.raises(UsageError, match="no other python3 on PATH"):
        choose_target(None, {"PATH": str(tmp_path / "bin")}, "/x", str(tmp_path))


def _bad_pythons(tmp_path: Path) -> List[tuple[str, str]]:
    (tmp_path / "adir").mkdir()
    _script(tmp_path / "not-python", "#!/bin/sh\necho hello\n")
    _script(tmp_path / "python2", PYTHON2)
    return [
        ("missing/bin/python", "no such file"),
        ("python3.99-nowhere", "not found on PATH"),
        ("adir", "is a directory"),
        ("not-python", "not a Python interpreter"),
        ("python2", "Python 2.7, and gpusetup needs a Python 3 interpreter"),
    ]


@pytest.mark.parametrize(
    "command", [["doctor"], ["install", "--dry-run", "--cuda", "cpu"], ["verify"]]
)
def test_bad_python_is_one_line_exit_2(
    command: List[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = _bad_pythons(tmp_path)
    monkeypatch.chdir(tmp_path)
    for name, message in cases:
        option = name if "PATH" in message else f"./{name}"
        result = runner.invoke(app, [*command, "--python", option])
        assert result.exit_code == 2, (name, result.output)
        assert f"--python {option}: {message}" in result.stderr
        assert "Traceback" not in result.output


def test_broken_virtual_env_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "gone"))
    result = runner.invoke(app, ["doctor"])
    assert (
        result.exit_code == 2 and f"VIRTUAL_ENV={tmp_path / 'gone'}: no such file" in result.stderr
    )


@pytest.mark.slow
def test_relative_python_is_probed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_env(tmp_path / "proj" / ".venv", "cpu")
    monkeypatch.chdir(tmp_path / "proj")
    result = runner.invoke(app, ["doctor", "--json", "--python", ".venv/bin/python"])
    torch = json.loads(result.stdout)["facts"]["torch"]
    assert torch["python"] == str(tmp_path / "proj" / ".venv" / "bin" / "python")
    assert (torch["version"], torch["python_reason"]) == ("2.4.1+cpu", "option")


# ---- gpusetup run from a real pipx-style / uv-tool-style venv -----------------------------------


def _tool_env(root: Path, marker: str) -> Path:
    """A venv like the one pipx or uv tool makes for gpusetup (the system's packages for its deps)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)],
        check=True,
    )
    (root / marker).write_text('{"main_package": {"package": "gpusetup"}}\n')
    return root / "bin" / "python"


def _run(
    python: Path, args: List[str], path_first: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(PYTHONPATH=SRC, PATH=f"{path_first}{os.pathsep}{env['PATH']}", **extra)
    return subprocess.run(
        [str(python), "-m", "gpusetup", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("marker", "tool"), [("pipx_metadata.json", "pipx"), ("uv-receipt.toml", "uv tool")]
)
def test_from_a_tool_env_the_python3_on_path_is_checked(
    marker: str, tool: str, tmp_path: Path
) -> None:
    gpusetup_python = _tool_env(tmp_path / "tools" / "gpusetup", marker)
    project = make_env(tmp_path / "project", "cpu")  # torch 2.4.1+cpu (a stub)
    result = _run(gpusetup_python, ["doctor", "--json"], project.parent)
    torch = json.loads(result.stdout)["facts"]["torch"]
    assert torch["python"] == str(project.parent / "python3")
    assert (torch["python_reason"], torch["python_reason_detail"]) == ("tool-env", tool)
    assert torch["version"] == "2.4.1+cpu"
    text = _run(gpusetup_python, ["doctor"], project.parent, COLUMNS="200").stdout
    assert (
        f"Python: {project.parent / 'python3'} (python3 on PATH: gpusetup runs from a {tool} environment)"
        in text
    )
    plan = _run(
        gpusetup_python, ["install", "--cuda", "cpu", "--dry-run", "--json"], project.parent
    )
    assert json.loads(plan.stdout)["python"] == {
        "path": str(project.parent / "python3"),
        "reason": "tool-env",
    }
    # pip (or uv) is run for the project's python, not gpusetup's own venv (which has no pip)
    assert str(project.parent / "python3") in json.loads(plan.stdout)["command"]


@pytest.mark.slow
def test_from_a_tool_env_the_active_venv_wins(tmp_path: Path) -> None:
    gpusetup_python = _tool_env(tmp_path / "tools" / "gpusetup", "pipx_metadata.json")
    project = make_env(tmp_path / "project", "cpu")
    elsewhere = make_env(tmp_path / "elsewhere", "empty")
    result = _run(
        gpusetup_python,
        ["doctor", "--json"],
        elsewhere.parent,
        VIRTUAL_ENV=str(tmp_path / "project"),
    )
    torch = json.loads(result.stdout)["facts"]["torch"]
    assert (torch["python"], torch["python_reason"]) == (str(project), "virtual-env")
    assert torch["version"] == "2.4.1+cpu"


@pytest.mark.slow
def test_a_plain_venv_checks_itself(tmp_path: Path) -> None:
    """No marker: gpusetup installed in a project's venv checks that venv (the interpreter running it)."""
    own = _tool_env(tmp_path / "own", "not-a-marker.txt")
    project = make_env(tmp_path / "project", "cpu")
    torch = json.loads(_run(own, ["doctor", "--json"], project.parent).stdout)["facts"]["torch"]
    assert (torch["python"], torch["python_reason"]) == (str(own), "self")


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["pipx", "uv"])
def test_real_pipx_and_uv_tool_install_check_the_python3_on_path(tool: str, tmp_path: Path) -> None:
    """`pipx install .` / `uv tool install .` for real (their markers, their layout), then doctor."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "t")], check=True)
    got = subprocess.run(
        [str(tmp_path / "t" / "bin" / "python"), "-m", "pip", "install", "-q", tool],
        capture_output=True,
        timeout=600,
    )
    if got.returncode != 0:
        pytest.skip(f"{tool} could not be installed here (no package index?)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIPX_MAN_DIR=str(tmp_path / "man"),
        UV_TOOL_DIR=str(tmp_path / "uv-tools"),
        UV_TOOL_BIN_DIR=str(tmp_path / "bin"),
    )
    argv = [
        str(tmp_path / "t" / "bin" / tool),
        *(["install"] if tool == "pipx" else ["tool", "install"]),
    ]
    subprocess.run(
        [*argv, str(Path(SRC).parent)], check=True, env=env, capture_output=True, timeout=600
    )
    project = make_env(tmp_path / "project", "cpu")
    env["PATH"] = f"{project.parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [str(tmp_path / "bin" / "gpusetup"), "doctor", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    torch = json.loads(result.stdout)["facts"]["torch"]
    assert (torch["python"], torch["python_reason"]) == (
        str(project.parent / "python3"),
        "tool-env",
    )
    assert torch["version"] == "2.4.1+cpu"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30).filter(lambda t: "\x00" not in t))
def test_any_python_option_is_a_target_or_a_usage_error(text: str) -> None:
    try:
        target = checked_target(text, {})
    except UsageError:
        return
    assert target.reason is TargetReason.OPTION and os.path.isabs(target.path)
