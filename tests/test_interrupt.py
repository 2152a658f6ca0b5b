"""Ctrl-C, SIGTERM (a cancelled CI job) or SIGHUP ends gpusetup *and* the child it runs in the target interpreter.

The children run in their own session (so a timeout can kill their whole group), which also means the
terminal's Ctrl-C and a CI runner's SIGTERM do not reach them: gpusetup must end them itself, or a
benchmark would go on holding the GPU after the job is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from tests.conftest import default_signals
from tests.fakes.stub_envs import make_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def children_of(pid: int) -> List[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its reaping is left


@pytest.fixture(scope="module")
def hanging_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An interpreter whose `import torch` never returns."""
    return str(make_env(tmp_path_factory.mktemp("hang") / "env", "hangs"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [
        (signal.SIGTERM, 143, "terminated"),
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGHUP, 129, "hung up"),  # the terminal or ssh session went away
    ],
)
@pytest.mark.parametrize("command", [["verify", "--device", "cpu"], ["doctor"]])
def test_a_signal_ends_the_child_too(
    hanging_python: str, sig: int, code: int, word: str, command: List[str]
) -> None:
    cli = subprocess.Popen(
        [sys.executable, "-m", "gpusetup", *command, "--python", hanging_python, "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src")),
        preexec_fn=default_signals,
    )
    deadline = time.monotonic() + 30
    children: List[int] = []
    while not children and time.monotonic() < deadline:
        time.sleep(0.2)
        children = [c for c in children_of(cli.pid) if alive(c)]
    assert children, "the child never started"
    time.sleep(0.5)  # let it reach the hanging import
    cli.send_signal(sig)
    _, stderr = cli.communicate(timeout=30)
    assert cli.returncode == code and word in stderr and "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 10
    while any(alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(c) for c in children), "the child outlived gpusetup"
