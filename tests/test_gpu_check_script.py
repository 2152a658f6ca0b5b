"""scripts/gpu_check.sh, run here without a GPU: its own logic must work before a lent GPU runs it.

A lent machine gives a session a few minutes and takes back at most 8 files from $OUT, so the script
has to finish its summary, say where the results belong and keep within that file count.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpusetup.doctor.report import load_facts_file
from gpusetup.facts.paste import read_paste

ROOT = Path(__file__).resolve().parents[1]
FAKE_SMI = """#!/bin/sh
case "$*" in
  *--query-gpu=name*) echo "NVIDIA H100 80GB HBM3" ;;
  *) echo "fake nvidia-smi: $*" ;;
esac
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="bash")
def test_gpu_check_leaves_a_summary_and_at_most_8_files(tmp_path: Path) -> None:
    bin_dir, out = tmp_path / "bin", tmp_path / "out"
    bin_dir.mkdir()
    out.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env = dict(os.environ, OUT=str(out), PATH=path, PYTHON=sys.executable)  # this venv's python
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "commit it as benchmarks/results/NVIDIA-H100-80GB-HBM3-" in done.stdout
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and {"summary.txt", "steps.txt", "results.tar.gz"} <= set(files)
    steps = (out / "steps.txt").read_text().splitlines()
    assert [s.split()[0] for s in steps] == [
        "doctor",
        "doctor-text",
        "paste-collect-env",
        "paste-nvidia-smi-q",
        "paste-nvidia-smi",
        "paste-nvidia-smi-l",
        "verify-quick",
        "verify-quick-text",
        "accuracy",
        "verify-full",
        "doctor-speed",
    ]
    summary = (out / "summary.txt").read_text()
    assert "== summary ==" in summary and "verify --quick:" in summary
    # Without a CUDA build (or any torch), verify explains itself (exit 3) and the summary shows why.
    why = "no usable GPU runtime" if importlib.util.find_spec("torch") else "torch is not installed"
    assert "verify-quick exit=3" in summary and why in summary

    # What comes back is recorded: the results folder, and the doctor facts as a replayable fixture.
    repo = tmp_path / "repo"
    (repo / "benchmarks" / "results").mkdir(parents=True)
    (repo / "tests" / "fixtures" / "facts").mkdir(parents=True)
    record = [sys.executable, str(ROOT / "scripts" / "record_gpu_check.py"), str(out)]
    done = subprocess.run([*record, "--root", str(repo)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (folder,) = (repo / "benchmarks" / "results").iterdir()
    assert folder.name.startswith("NVIDIA-H100-80GB-HBM3-") and (folder / "steps.txt").exists()
    (fixture,) = (repo / "tests" / "fixtures" / "facts").iterdir()
    assert fixture.name == f"recorded-{folder.name}.json"
    assert load_facts_file(str(fixture)).torch.python == sys.executable
    # The pastes doctor can read become paste fixtures with their source; the fake nvidia-smi's
    # one line is no known format, so it is left out and said so.
    pastes = repo / "tests" / "fixtures" / "paste"
    recorded = sorted(p.name for p in pastes.iterdir()) if pastes.exists() else []
    if importlib.util.find_spec("torch"):
        stem = f"recorded-{folder.name}-collect-env"
        assert recorded == [f"{stem}.source", f"{stem}.txt"]
        assert "torch.utils.collect_env" in (pastes / f"{stem}.source").read_text()
        assert read_paste((pastes / f"{stem}.txt").read_text()).input.kinds == ["collect-env"]
    assert "paste-nvidia-smi-q.txt: not recorded as a fixture" in done.stdout
    again = subprocess.run([*record, "--root", str(repo)], capture_output=True, text=True)
    assert again.returncode != 0 and "exists already" in again.stderr
