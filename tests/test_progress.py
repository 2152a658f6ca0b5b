"""Progress on stderr: the running verify step named and counted right; spinners on a terminal."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from gpusetup.render.progress import Activity, StepTracker, VerifyProgress, plan_steps

ROOT = Path(__file__).resolve().parent.parent
RAW = json.loads((ROOT / "tests/fixtures/verify/handmade-h100-sxm-raw.json").read_text())["results"]
GPU_CONFIG: Dict[str, Any] = {
    "devices": ["all"],
    "dtypes": ["fp32", "tf32", "bf16", "fp8"],
    "benchmarks": ["matmul", "conv", "memory", "h2d", "p2p"],
}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _tracker(config: Dict[str, Any]) -> StepTracker:
    return VerifyProgress(config, tty=False).tracker


def test_plan_follows_the_child_loop() -> None:
    steps = plan_steps(GPU_CONFIG)
    assert steps[:5] == [("matmul", "fp32"), ("matmul", "tf32"), ("matmul", "bf16"),
                         ("matmul", "fp8"), ("conv", "fp32")]  # fmt: skip
    assert steps[-2:] == [("memory", "-"), ("h2d", "-")]
    assert len(steps) == 10  # 4 matmul + 4 conv + memory + h2d; p2p only with two GPUs
    cpu = plan_steps({**GPU_CONFIG, "devices": ["cpu"]})
    assert ("h2d", "-") not in cpu and len(cpu) == 9


def test_the_running_step_is_named_not_the_last_finished() -> None:
    tracker = _tracker(GPU_CONFIG)
    tracker.device(0)
    assert tracker.running() == "matmul fp32"
    tracker.result(RAW[0])  # matmul fp32 finished
    assert tracker.running() == "matmul tf32"
    conv_fwd = next(r for r in RAW if r["benchmark"] == "conv-fwd")
    tracker.result(conv_fwd)  # its backward pass is still to come
    assert tracker.running() == "conv fp32"
    assert "conv fp32 · step 5 of 10" in tracker.label()


def test_counts_end_at_the_number_of_steps() -> None:
    """The old bar counted to 13 for these 11 results."""
    tracker = _tracker(GPU_CONFIG)
    tracker.device(0)
    for raw in RAW:
        tracker.result(raw)
    assert (tracker.index, tracker.total) == (10, 10)
    assert tracker.running() is None


def test_two_gpus_finish_a_step_together_and_add_p2p() -> None:
    tracker = _tracker(GPU_CONFIG)
    tracker.device(0)
    tracker.device(1)
    assert tracker.total == 11 and tracker.steps[-1] == ("p2p", "-")
    tracker.result(RAW[0])
    assert tracker.running() == "matmul fp32"  # GPU 1 is still on it
    tracker.result({**RAW[0], "gpu": 1})
    assert tracker.running() == "matmul tf32"


def test_plain_lines_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    progress = VerifyProgress(GPU_CONFIG, tty=False)
    with progress:
        progress.event("DEVICE", {"gpu": 0, "name": "NVIDIA H100 80GB HBM3"})
        progress.event("RESULT", RAW[0])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "measuring gpu0 NVIDIA H100 80GB HBM3 ..."
    assert err[1].startswith("[1/10] gpu0 matmul fp32: 51.2 TFLOP/s [ok]")


def test_spinner_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = VerifyProgress(GPU_CONFIG, tty=True)
    with progress:
        progress.event("DEVICE", {"gpu": 0, "name": "x"})
        progress.event("RESULT", RAW[0])
    shown = terminal.getvalue()
    assert re.search(r"matmul tf32 · step 2 of 10 · \d+ s", shown), shown
    assert "[1/10]" not in shown  # no plain lines on a terminal


def test_probe_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with Activity("probing torch in /x/python", tty=True):
        pass
    assert re.search(r"probing torch in /x/python · \d+ s", terminal.getvalue())
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    with Activity("probing torch in /x/python", tty=False):
        pass
    assert plain.getvalue() == "probing torch in /x/python ...\n"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs CPU torch")
def test_real_cpu_verify_counts_its_steps(tmp_path: Path) -> None:
    """The real child on CPU torch: the last plain line counts every planned step."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "gpusetup", "verify", "--device", "cpu", "--dtype", "fp32"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    counts: List[str] = re.findall(r"^\[(\d+)/(\d+)\]", done.stderr, re.M)
    assert counts, done.stderr
    total = len(plan_steps({"devices": ["cpu"], "dtypes": ["fp32"],
                            "benchmarks": ["matmul", "conv", "memory", "h2d", "p2p",
                                           "attention", "train-step", "compile"]}))  # fmt: skip
    assert counts[-1] == (str(total), str(total)), done.stderr
