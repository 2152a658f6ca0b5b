"""The human output, byte for byte, at NO_COLOR and 80 columns: tests/golden/*.txt.

A change to what people see shows up here as a diff to review. To accept it, regenerate the files
and commit them with the change:

    GPUSETUP_REGEN_GOLDEN=1 python3 -m pytest -q tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.output_cases import FACT_FILES, INSTALL_REQUESTS, doctor_text, install_text, verify_text

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("GPUSETUP_REGEN_GOLDEN") == "1"
WIDTH = 80


def _compare(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: GPUSETUP_REGEN_GOLDEN=1 writes it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name}: output differs from {path} (see the module docstring)"


@pytest.mark.parametrize("path", FACT_FILES, ids=[p.stem for p in FACT_FILES])
def test_doctor_golden(path: Path, tmp_path: Path) -> None:
    text, _ = doctor_text(path, WIDTH, tmp_path)
    _compare(f"doctor-{path.stem}", text)


@pytest.mark.parametrize("name", sorted(INSTALL_REQUESTS))
def test_install_dry_run_golden(name: str, tmp_path: Path) -> None:
    text, _ = install_text(name, WIDTH, tmp_path)
    _compare(name, text)


def test_verify_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    _compare("verify-handmade-h100-sxm", verify_text(WIDTH, monkeypatch))


def test_every_golden_file_is_checked() -> None:
    """A golden file whose case was removed is stale: delete it."""
    names = {f"doctor-{p.stem}" for p in FACT_FILES} | set(INSTALL_REQUESTS)
    names.add("verify-handmade-h100-sxm")
    assert {p.stem for p in GOLDEN.glob("*.txt")} == names
