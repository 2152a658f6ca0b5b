"""Output that pastes: fixes whole on one line, COLUMNS followed, no trailing spaces, values whole."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Dict, List

import pytest

from gpusetup.render.console import colour_wanted, output_width
from gpusetup.verify.score import rate_text
from tests.output_cases import (
    FACT_FILES,
    INSTALL_REQUESTS,
    PYTHON,
    doctor_text,
    install_text,
    verify_result,
    verify_text,
)

WIDTHS = (80, 110)


def _no_trailing_spaces(text: str) -> None:
    bad = [line for line in text.splitlines() if line != line.rstrip()]
    assert not bad, bad


def _whole_on_a_line(text: str, value: str) -> None:
    assert any(value in line for line in text.splitlines()), f"{value!r} is not whole on a line"


def _tokens(text: str) -> List[List[str]]:
    return [line.split() for line in text.splitlines()]


def _gpu_values(gpu: Dict[str, Any]) -> List[str]:
    values = [gpu["name"], gpu["pci_bus_id"], str(gpu["memory_total_mib"])]
    values += [f"{gpu['memory_used_mib']}/{gpu['memory_total_mib']}"]
    if gpu.get("power_limit_w") is not None:
        values.append(f"{gpu['power_draw_w']}/{gpu['power_limit_w']}")
    return values


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("path", FACT_FILES, ids=[p.stem for p in FACT_FILES])
def test_doctor_pastes(path: Path, columns: int, tmp_path: Path) -> None:
    text, data = doctor_text(path, columns, tmp_path)
    _no_trailing_spaces(text)
    for finding in data["findings"]:
        _whole_on_a_line(text, finding["fix"])
        _whole_on_a_line(text, finding["id"])
    for gpu in data["facts"]["gpus"]:
        for value in _gpu_values(gpu):
            _whole_on_a_line(text, value)
    for line in text.splitlines():  # only a fix may run past the width (a terminal soft-wraps it)
        assert len(line) <= columns or line.startswith("  fix: "), line


def test_sick_node_fix_is_not_broken_at_80(tmp_path: Path) -> None:
    """The issue's example: `sudo nvidia-smi` / `-r -i 0` on two lines."""
    sick = next(p for p in FACT_FILES if "a100-sick" in p.name)
    text, _ = doctor_text(sick, 80, tmp_path)
    assert "sudo nvidia-smi -r -i 0 (or reboot)" in text
    assert "80000/81920" in text and "…" not in text


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("name", sorted(INSTALL_REQUESTS))
def test_install_dry_run_pastes(name: str, columns: int, tmp_path: Path) -> None:
    text, data = install_text(name, columns, tmp_path)
    _no_trailing_spaces(text)
    _whole_on_a_line(text, _command(data))
    for package in data["packages"]:
        assert [package] in _tokens(text), package
    assert all(len(line) <= columns for line in text.splitlines() if sys_free(line, data))


def sys_free(line: str, data: Dict[str, Any]) -> bool:
    """Lines other than the command (which is one unbroken line, however long)."""
    return _command(data) not in line


def _command(data: Dict[str, Any]) -> str:
    """The JSON's command as the shell line, the interpreter shown as output_cases shows it."""
    return shlex.join(data["command"]).replace(shlex.quote(PYTHON), PYTHON)


@pytest.mark.parametrize("columns", WIDTHS)
def test_verify_pastes(columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = verify_text(columns, monkeypatch)
    _no_trailing_spaces(text)
    assert "…" not in text
    assert all(len(line) <= columns for line in text.splitlines())
    words = {w for line in _tokens(text) for w in line}
    for row in verify_result().rows:
        assert row.benchmark in words and row.dtype in words
        assert row.value is not None and rate_text(row.value) in words
        if row.reason:
            assert " ".join(row.reason.split()) in " ".join(text.split())


def test_width_follows_columns() -> None:
    assert output_width({"COLUMNS": "132"}, tty=False) == 132
    assert output_width({}, tty=False) == 80
    assert output_width({"COLUMNS": "x"}, tty=False) == 80
    assert output_width({}, tty=True) is None  # the terminal's own width


def test_colour_only_where_wanted() -> None:
    assert colour_wanted(True, {}) and not colour_wanted(False, {})
    assert not colour_wanted(True, {"NO_COLOR": "1"})
    assert colour_wanted(False, {"FORCE_COLOR": "1"})
    assert colour_wanted(True, {"NO_COLOR": ""})  # the convention: set and not empty


def test_force_colour_on_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" not in verify_text(80, monkeypatch, "NO_COLOR")
    assert "\x1b[" in verify_text(80, monkeypatch, "FORCE_COLOR")


def test_fleet_report_and_profiles_list_keep_values_whole(tmp_path: Path) -> None:
    from tests.output_cases import run_cli

    files = []
    for path in FACT_FILES[:3]:
        data, _ = run_cli(["doctor", "--facts", str(path), "--json"], 80, tmp_path)
        files.append(tmp_path / f"{path.stem[:12]}.json")
        files[-1].write_text(data)
    text, _ = run_cli(["report", *map(str, files)], 80, tmp_path)
    _no_trailing_spaces(text)
    assert "…" not in text and all(len(line) <= 80 for line in text.splitlines()), text
    for file in files:
        assert file.stem in text
    listed, _ = run_cli(["profiles", "list"], 80, tmp_path)
    _no_trailing_spaces(listed)
    assert "…" not in listed and all(len(line) <= 80 for line in listed.splitlines()), listed
    assert "2.4.1" in listed.split()
