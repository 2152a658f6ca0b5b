"""The human output of doctor, install --dry-run and verify, rendered the same way for the paste
tests and the golden files: a clean environment, NO_COLOR, COLUMNS fixed, no pipe to a terminal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
FACT_FILES = sorted((FIXTURES / "facts").glob("*.json"))
VERIFY_RAW = FIXTURES / "verify" / "handmade-h100-sxm-raw.json"
# Fixed requests: nothing is left to the machine (driver, arch, Python and platform given) and the
# torch version is pinned, so a release added to profiles/ does not change them.
INSTALL_REQUESTS: Dict[str, List[str]] = {
    "install-h100-driver550-torch2130-py311": [
        "--driver", "550.54.15", "--arch", "sm_90", "--python-version", "3.11",
        "--platform", "linux_x86_64", "--torch", "2.13.0",
    ],
    "install-a10-driver535-torch241-py310": [
        "--driver", "535.104.05", "--arch", "sm_86", "--python-version", "3.10",
        "--platform", "linux_x86_64", "--torch", "2.4.1",
    ],
}  # fmt: skip
PYTHON = "<python>"  # the interpreter running the tests differs per machine: shown as this


def clean_env(columns: int, tmp: Path) -> Dict[str, str]:
    """Nothing of the developer's machine: no pip config, no PIP_*/SSL_* variables, no venv."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp / ".config"),
        "XDG_CONFIG_DIRS": str(tmp / "xdg"),
        "PIP_CONFIG_FILE": os.devnull,
        "PYTHONPATH": str(ROOT / "src"),
        "PYTHONIOENCODING": "utf-8",
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "COLUMNS": str(columns),
    }


def run_cli(args: List[str], columns: int, tmp: Path) -> Tuple[str, int]:
    """gpusetup's stdout (the interpreter's path as <python>) and exit code."""
    done = subprocess.run(
        [sys.executable, "-m", "gpusetup", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(columns, tmp),
        cwd=tmp,
        timeout=120,
    )
    assert not done.stderr.strip() or "error" not in done.stderr, done.stderr
    return done.stdout.replace(sys.executable, PYTHON), done.returncode


def doctor_text(path: Path, columns: int, tmp: Path) -> Tuple[str, Dict[str, Any]]:
    text, _ = run_cli(["doctor", "--facts", str(path)], columns, tmp)
    data, _ = run_cli(["doctor", "--facts", str(path), "--json"], columns, tmp)
    # a recorded fixture names the interpreter of the machine it came from, whatever runs the tests
    facts = (
        json.loads(path.read_text()).get("facts", {}) if path.name.startswith("recorded-") else {}
    )
    recorded = (facts.get("torch") or {}).get("python")
    return (text.replace(recorded, PYTHON) if recorded else text), json.loads(data)


def install_text(name: str, columns: int, tmp: Path) -> Tuple[str, Dict[str, Any]]:
    args = ["install", "--dry-run", *INSTALL_REQUESTS[name]]
    text, _ = run_cli(args, columns, tmp)
    data, _ = run_cli([*args, "--json"], columns, tmp)
    return text, json.loads(data)


def verify_result() -> Any:
    """The hand-made H100 results scored as verify scores them, with one failed, noted row."""
    from gpusetup.profiles.load import load_profiles
    from gpusetup.verify.score import Floors, VerifyResult, score

    raw = json.loads(VERIFY_RAW.read_text())["results"]
    raw[4]["size"] = {"batch": 32, "channels": 256, "height": 56, "width": 56}
    raw[5]["reason"] = "slower than expected: 29 TFLOP/s; check clocks with nvidia-smi -q -d CLOCK"
    raw[9]["size"] = {"bytes": 256 * 2**20}
    rows = score(raw, load_profiles(), Floors(), {0: (5, 16)}, {})
    device = {"gpu": 0, "name": raw[0]["name"], "torch": "2.4.1+cu124"}
    return VerifyResult(device="all", mode="quick", rows=rows, devices=[device], seconds=12.3)


def verify_text(columns: int, environ: Any, colour: str = "NO_COLOR") -> str:
    """verify's table for the result above, through the renderer, at this width; colour names the
    variable set (NO_COLOR or FORCE_COLOR)."""
    from gpusetup.render.console import make_console
    from gpusetup.render.verify import render_verify

    environ.setenv("COLUMNS", str(columns))
    environ.delenv("NO_COLOR", raising=False)
    environ.delenv("FORCE_COLOR", raising=False)
    environ.setenv(colour, "1")
    out = io.StringIO()
    with redirect_stdout(out):
        render_verify(verify_result(), make_console())
    return out.getvalue()
