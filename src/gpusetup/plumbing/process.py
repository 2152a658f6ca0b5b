"""The one place gpusetup runs other programs: argument lists, timeouts, never a shell.

Each child starts in its own session and process group, with a token in its environment that its
descendants inherit. However it ends (finished, timed out, Ctrl-C, SIGTERM, SIGHUP), its whole group
is killed and any descendant that left the group (setsid, a daemon's double fork) is found by the token
and killed too: nothing it started outlives gpusetup, and a grandchild that still holds the child's
stdout cannot keep a finished child "running".
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import IO, Callable, List, Mapping, Optional, Sequence, Union

TOKEN_VAR = "GPUSETUP_CHILD_TOKEN"
LINE_CAP = 1 << 20  # a longer "line" is cut: a child cannot make gpusetup hold one huge string
STDOUT_CAP = 8 << 20  # what is kept of a child's stdout (the probe prints tens of KB)
STDERR_TAIL = 64 << 10  # the end of stderr is what explains a crash
FINAL_GRACE = 5.0  # after its final line, the seconds a child gets to exit by itself
READER_GRACE = 5.0  # after the group is killed, the seconds the pipe readers get to reach EOF


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


class _Reader:
    """Reads one pipe on a thread, line by line, so the main thread is free to watch the clock."""

    def __init__(
        self,
        pipe: IO[str],
        cap: int,
        on_line: Optional[Callable[[str], None]] = None,
        final: Optional[Callable[[str], bool]] = None,
    ) -> None:
        self.pipe, self.cap, self.on_line, self.final = pipe, cap, on_line, final
        self.parts: List[str] = []
        self.size = 0
        self.final_seen = threading.Event()
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                line = self.pipe.readline(LINE_CAP)
                if not line:
                    return
                self._keep(line)
                text = line.rstrip("\n")
                if self.on_line is not None:
                    self.on_line(text)
                if self.final is not None and self.final(text):
                    self.final_seen.set()
        except (OSError, ValueError):  # the pipe was closed under us: the child is gone
            return
        except BaseException as err:  # noqa: BLE001 - handed to the main thread, raised there
            self.error = err
            self.final_seen.set()

    def _keep(self, line: str) -> None:
        self.parts.append(line)
        self.size += len(line)
        while self.size > self.cap and len(self.parts) > 1:
            self.size -= len(self.parts.pop(0))

    def text(self) -> str:
        return "".join(self.parts)


class Running:
    """A started child: wait() collects it and then ends everything it started."""

    def __init__(
        self,
        proc: subprocess.Popen[str],
        timeout: float,
        stdin_text: Optional[str],
        *,
        token: str,
        scratch: Optional[str] = None,
        on_line: Optional[Callable[[str], None]] = None,
        final: Optional[Callable[[str], bool]] = None,
    ) -> None:
        self.proc, self.timeout, self.token, self.scratch = proc, timeout, token, scratch
        self.started = time.monotonic()
        assert proc.stdout is not None
        assert proc.stderr is not None
        self.out = _Reader(proc.stdout, STDOUT_CAP, on_line, final)
        self.err = _Reader(proc.stderr, STDERR_TAIL)
        if proc.stdin is not None:
            threading.Thread(target=_feed, args=(proc.stdin, stdin_text or ""), daemon=True).start()
        self._ended = False

    def wait(self) -> ProcessResult:
        try:
            timed_out = self._wait_for_exit()
        except BaseException:
            self.cancel()  # Ctrl-C, SIGTERM, SIGHUP: the child has its own session, so take it along
            raise
        self._end()
        if (
            self.out.error is not None
        ):  # on_line raised: a bug or an interrupt, not the child's fault
            raise self.out.error
        return ProcessResult(
            None if timed_out else self.proc.returncode,
            self.out.text(),
            self.err.text(),
            time.monotonic() - self.started,
            timed_out=timed_out,
        )

    def _wait_for_exit(self) -> bool:
        """Until the child exits, its final line is followed by FINAL_GRACE, or time runs out;
        True when it timed out without giving its final line."""
        deadline = self.started + self.timeout
        final_deadline: Optional[float] = None
        while self.proc.poll() is None and self.out.error is None:
            now = time.monotonic()
            if final_deadline is None and self.out.final_seen.is_set():
                final_deadline = now + FINAL_GRACE
            if final_deadline is not None and now >= final_deadline:
                return False  # it said all it had to say: the answer counts, the rest is killed
            if now >= deadline:
                return final_deadline is None
            time.sleep(min(0.02, deadline - now))
        return False

    def cancel(self) -> None:
        self._end()

    def _end(self) -> None:
        """Kill the group and the token's strays, let the pipe readers finish, reap, clean up."""
        if self._ended:
            return
        self._ended = True
        _kill_group(self.proc)
        kill_strays(self.token)
        for reader in (self.out, self.err):
            reader.thread.join(timeout=READER_GRACE)
            if not reader.thread.is_alive():  # closing a pipe that a thread still reads would block
                reader.pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=READER_GRACE)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _feed(pipe: IO[str], text: str) -> None:
    """Write the child's input; a child that exits without reading it is its own failure, not ours."""
    try:
        pipe.write(text)
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError, ValueError):
            pipe.close()  # closes the descriptor even when the flush fails


def start(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    stdin_text: Optional[str] = None,
    scratch: bool = False,
    on_line: Optional[Callable[[str], None]] = None,
    final: Optional[Callable[[str], bool]] = None,
) -> Union[Running, ProcessResult]:
    """Start argv in its own session (so all it starts can be ended); a ProcessResult if it can't.

    scratch: run it in a new empty directory (nothing in the user's cwd is imported), removed after.
    on_line gets each stdout line as it arrives; final(line) true means the child's answer is complete.
    """
    token = uuid.uuid4().hex
    child_env = dict(os.environ if env is None else env, **{TOKEN_VAR: token})
    workdir = tempfile.mkdtemp(prefix="gpusetup-") if scratch else cwd
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            cwd=workdir,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as err:
        if scratch and workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        return ProcessResult(None, "", "", 0.0, start_error=str(err))
    return Running(
        proc,
        timeout,
        stdin_text,
        token=token,
        scratch=workdir if scratch else None,
        on_line=on_line,
        final=final,
    )


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    stdin_text: Optional[str] = None,
    scratch: bool = False,
) -> ProcessResult:
    """Run argv to completion or until timeout; whatever it started is ended either way."""
    started = start(argv, timeout=timeout, env=env, cwd=cwd, stdin_text=stdin_text, scratch=scratch)
    return started.wait() if isinstance(started, Running) else started


def stream(
    argv: Sequence[str],
    *,
    timeout: float,
    on_line: Callable[[str], None],
    stdin_text: str = "",
    cwd: Optional[str] = None,
    scratch: bool = False,
    final: Optional[Callable[[str], bool]] = None,
) -> ProcessResult:
    """Run argv, handing each stdout line to on_line as it arrives; kill it at the deadline."""
    running = start(
        argv,
        timeout=timeout,
        cwd=cwd,
        stdin_text=stdin_text,
        scratch=scratch,
        on_line=on_line,
        final=final,
    )
    return running.wait() if isinstance(running, Running) else running


def _kill_group(proc: subprocess.Popen[str]) -> None:
    killpg = getattr(os, "killpg", None)  # POSIX; elsewhere the child alone is ended
    try:
        if killpg is None:
            raise OSError("no process groups here")
        killpg(proc.pid, signal.SIGKILL)  # the group outlives its leader while members remain
    except OSError:
        with contextlib.suppress(OSError):
            proc.kill()


def kill_strays(token: str) -> int:
    """Kill every process whose environment carries token (descendants that left the group)."""
    needle = f"{TOKEN_VAR}={token}".encode()
    killed = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0  # no /proc: the process group is all that can be ended
    for name in entries:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                found = needle in environ.read().split(b"\0")
            if found:
                os.kill(int(name), signal.SIGKILL)
                killed += 1
        except OSError:
            continue
    return killed


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


_SCRATCH: List[str] = []


def scratch_dir() -> str:
    """An empty working directory for a child interpreter, removed when gpusetup exits.

    Prefer start(..., scratch=True), which removes it as soon as the child has ended."""
    path = tempfile.mkdtemp(prefix="gpusetup-")
    if not _SCRATCH:
        atexit.register(_remove_scratch)
    _SCRATCH.append(path)
    return path


def _remove_scratch() -> None:
    while _SCRATCH:
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)
