"""Every paste goes through the CLI (`doctor --facts FILE`), not only read_paste: a refusal at the edge
(a paste taken for JSON) cannot hide behind tests that call the reader directly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gpusetup.cli import app
from gpusetup.facts.model import InputKind
from tests.conftest import FIXTURES, make_runner

runner = make_runner()
FILES = sorted((FIXTURES / "paste").glob("*.txt"))
_KINDS = "|".join(re.escape(k.value) for k in InputKind if k is not InputKind.DOCTOR)
_READ = re.compile(rf"^Read: (?:{_KINDS})(?: \+ (?:{_KINDS}))* paste\b", re.MULTILINE)

# Hand-made pastes whose first character is '[' (what a shell prompt or a package list starts with).
HANDMADE = {
    "handmade-root-prompt-nvidia-smi-q": (
        "[root@node ~]# nvidia-smi -q\n\n==============NVSMI LOG==============\n\n"
        "Driver Version                            : 535.104.05\n"
        "CUDA Version                              : 12.2\n"
    ),
    "handmade-package-list-only": (
        "[pip3] numpy==1.26.4\n[pip3] torch==2.0.0+cu118\n[pip3] torchvision==0.15.0+cu118\n"
        "[conda] Could not collect\n"
    ),
    "handmade-json-like-then-paste": "[ {\n" + "[pip3] torch==2.4.0\n[pip3] numpy==1.26.4\n",
}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_paste_fixture_is_read_through_the_cli(path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--facts", str(path)])
    assert result.exit_code in (0, 1), result.stderr
    assert _READ.search(result.stdout), result.stdout[:400]


@pytest.mark.parametrize("name", sorted(HANDMADE))
def test_a_paste_starting_with_a_bracket_is_a_paste(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.txt"
    path.write_text(HANDMADE[name], encoding="utf-8")
    result = runner.invoke(app, ["doctor", "--facts", str(path), "--json"])
    assert result.exit_code in (0, 1), result.stderr
    assert json.loads(result.stdout)["facts"]["input"]["kinds"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "not a gpusetup doctor report"),  # JSON, but a list: refused as JSON
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"schema": "gpusetup.facts/1",', "not JSON"),  # an object cut short: still JSON
    ],
)
def test_json_is_told_by_content(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "facts.json"
    path.write_bytes(content)
    result = runner.invoke(app, ["doctor", "--facts", str(path)])
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_a_root_prompt_paste_through_a_real_process() -> None:
    path = FIXTURES / "paste" / "gpu-operator-356-nvidia-smi-510.txt"
    assert path.read_text(encoding="utf-8").startswith("[")
    done = subprocess.run(
        [sys.executable, "-m", "gpusetup", "doctor", "--facts", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert _READ.search(done.stdout), done.stdout[:400]
