"""The one place gpusetup runs other programs: argument lists, timeouts, never a shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence, Union


@dataclass(frozen=True)
class ProcessResult:
    returncode: Optional[int]  # None when it timed out or could not start
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    start_error: str = ""  # why it could not start (not found, not executable)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Running:
    """A started child: wait() collects it, and ends its whole process group if it overstays."""

    def __init__(self, proc: subprocess.Popen[str], timeout: float, stdin_text: Optional[str]):
        self.proc, self.timeout, self.stdin_text = proc, timeout, stdin_text
        self.started = time.monotonic()

    def wait(self) -> ProcessResult:
        left = max(0.0, self.timeout - (time.monotonic() - self.started))
        try:
            out, err_text = self.proc.communicate(self.stdin_text, timeout=left)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
            out, err_text = self.proc.communicate()
            return ProcessResult(None, out, err_text, self._seconds(), timed_out=True)
        except BaseException:
            self.cancel()  # Ctrl-C or SIGTERM: the child has its own session, so take it along
            raise
        return ProcessResult(self.proc.returncode, out, err_text, self._seconds())

    def cancel(self) -> None:
        _kill_group(self.proc)

    def _seconds(self) -> float:
        return time.monotonic() - self.started


def start(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    stdin_text: Optional[str] = None,
) -> Union[Running, ProcessResult]:
    """Start argv in its own session (so a timeout ends all it started); a ProcessResult if it can't."""
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as err:
        return ProcessResult(None, "", "", 0.0, start_error=str(err))
    return Running(proc, timeout, stdin_text)


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    stdin_text: Optional[str] = None,
) -> ProcessResult:
    """Run argv to completion or until timeout; kill the whole process group on timeout."""
    started = start(argv, timeout=timeout, env=env, cwd=cwd, stdin_text=stdin_text)
    return started.wait() if isinstance(started, Running) else started


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, 9)
    except OSError:
        proc.kill()


def run_streaming(
    argv: Sequence[str],
    *,
    env: Optional[Mapping[str, str]] = None,
    to_stderr: bool = False,
    cwd: Optional[str] = None,
) -> int:
    """Run an installer with its output going straight to the user's terminal (or stderr)."""
    try:
        return subprocess.call(
            list(argv),
            env=dict(env) if env is not None else None,
            stdout=sys.stderr if to_stderr else None,
            cwd=cwd,
        )
    except OSError as err:
        raise FileNotFoundError(f"could not run {argv[0]}: {err}") from err


def which(name: str, path: Optional[str] = None) -> Optional[str]:
    return shutil.which(name, path=path)


def scratch_dir() -> str:
    """An empty working directory for child interpreters, so nothing in the user's cwd is imported."""
    return tempfile.mkdtemp(prefix="gpusetup-")


def stream(
    argv: Sequence[str],
    *,
    timeout: float,
    on_line: Callable[[str], None],
    stdin_text: str = "",
    cwd: Optional[str] = None,
) -> ProcessResult:
    """Run argv, handing each stdout line to on_line as it arrives; kill it at the deadline."""
    running = start(argv, timeout=timeout, cwd=cwd, stdin_text=stdin_text)
    if not isinstance(running, Running):
        return running
    proc, started = running.proc, running.started
    stderr_lines: List[str] = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(stdin_text)
    proc.stdin.close()
    fired = threading.Event()

    def kill() -> None:
        fired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
        proc.wait()
    except BaseException:
        kill()  # Ctrl-C or SIGTERM: a benchmark left running would hold the GPU
        raise
    finally:
        timer.cancel()
    reader.join(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    timed_out = fired.is_set()
    return ProcessResult(
        None if timed_out else proc.returncode,
        "",
        "".join(stderr_lines),
        time.monotonic() - started,
        timed_out=timed_out,
    )
