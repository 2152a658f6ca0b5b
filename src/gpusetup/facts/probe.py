"""Runs the torch probe in the target interpreter and turns whatever happens into TorchFacts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from gpusetup.errors import UsageError
from gpusetup.facts.child_json import ChildDataError, loads
from gpusetup.facts.model import TorchFacts
from gpusetup.facts.status import ProbeStatus
from gpusetup.facts.target import SANITY_TIMEOUT, checked_target
from gpusetup.plumbing import process
from gpusetup.plumbing.codec import from_jsonable

PROBE_SCRIPT = Path(__file__).with_name("_torch_probe.py")
MARKER = "GPUSETUP-PROBE:"
DEFAULT_TIMEOUT = 120.0


def target_python(path: Optional[str], timeout: float = SANITY_TIMEOUT) -> str:
    """The interpreter to act on, by the one rule of gpusetup.facts.target (checked to be Python 3)."""
    return checked_target(path, timeout=timeout).path


class PendingProbe:
    """A probe started in the background: doctor reads NVML, /proc and the toolkit meanwhile."""

    def __init__(self, python: str, timeout: float) -> None:
        self.python, self.timeout = python, timeout
        argv = [python, str(PROBE_SCRIPT)]
        # Its result line is its answer: a grandchild that keeps the pipe open cannot make it "hang".
        self._started = process.start(
            argv, timeout=timeout, scratch=True, final=lambda line: line.startswith(MARKER)
        )

    def result(self) -> TorchFacts:
        started = self._started
        done = started.wait() if isinstance(started, process.Running) else started
        return _facts(self.python, self.timeout, done)

    def cancel(self) -> None:
        if isinstance(self._started, process.Running):
            self._started.cancel()


def probe_torch(python: str, timeout: float = DEFAULT_TIMEOUT) -> TorchFacts:
    """Run the probe script in python; a crash, hang or garbage becomes a status, never an exception."""
    return PendingProbe(python, timeout).result()


def _facts(python: str, timeout: float, result: process.ProcessResult) -> TorchFacts:
    if result.start_error:
        return TorchFacts(
            status=ProbeStatus.CRASHED,
            python=python,
            error=f"could not start: {result.start_error}",
        )
    if result.timed_out:
        return TorchFacts(
            status=ProbeStatus.TIMEOUT,
            python=python,
            error=f"the torch probe did not finish in {timeout:.0f} s (a CUDA init that hangs?)",
            seconds=result.seconds,
        )
    facts, unreadable = _parse(result.stdout)
    if facts is None:
        return TorchFacts(
            status=ProbeStatus.CRASHED
            if result.returncode not in (0, None) and not unreadable
            else ProbeStatus.BAD_OUTPUT,
            python=python,
            error=unreadable or _failure_text(result.returncode, result.stdout, result.stderr),
            seconds=result.seconds,
        )
    facts.python = facts.python or python
    return facts


def _parse(stdout: str) -> Tuple[Optional[TorchFacts], str]:
    """The probe's facts, or None and why its result line could not be read ("" if it printed none)."""
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        return None, ""
    try:
        return from_jsonable(TorchFacts, loads(lines[-1][len(MARKER) :]), "probe"), ""
    except (ChildDataError, UsageError) as err:
        return None, f"the torch probe printed a result gpusetup cannot read: {err}"


def _failure_text(returncode: Optional[int], stdout: str, stderr: str) -> str:
    tail = (stderr.strip() or stdout.strip()).splitlines()[-3:]
    if returncode is not None and returncode < 0:
        head = f"the torch probe was killed by signal {-returncode}"
    elif returncode:
        head = f"the torch probe exited with code {returncode}"
    else:
        head = "the torch probe printed no result"
    return head + (": " + " | ".join(tail) if tail else "")
