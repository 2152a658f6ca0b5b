"""Runs the benchmark child in the target interpreter and collects its events (I/O only)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from gpusetup.plumbing import process

CHILD = Path(__file__).with_name("_bench_child.py")
COLLECTIVES = Path(__file__).with_name("_collectives_child.py")
MARK = "GPUSETUP-"


@dataclass
class ChildRun:
    devices: List[Dict[str, Any]] = field(default_factory=list)
    ranks: List[Dict[str, Any]] = field(default_factory=list)
    results: List[Dict[str, Any]] = field(default_factory=list)
    fatal: Optional[Dict[str, Any]] = None
    done: bool = False
    timed_out: bool = False
    returncode: Optional[int] = None
    stderr: str = ""
    seconds: float = 0.0

    @property
    def crash(self) -> str:
        """Why the child ended without finishing, or '' when it finished."""
        if self.done or self.fatal:
            return ""
        if self.timed_out:
            return "the benchmark did not finish in time (a hung GPU or a CUDA init that never returns)"
        tail = " | ".join(self.stderr.strip().splitlines()[-3:])
        code = self.returncode
        how = (
            f"killed by signal {-code}"
            if code is not None and code < 0
            else f"exited with code {code}"
        )
        return f"the benchmark process {how}" + (f": {tail}" if tail else "")


def run_child(
    python: str,
    config: Dict[str, Any],
    timeout: float,
    on_event: Optional[Callable[[str, Dict[str, Any]], None]] = None,
    script: Optional[Path] = None,
) -> ChildRun:
    run = ChildRun()

    def handle(line: str) -> None:
        if not line.startswith(MARK) or ":" not in line:
            return
        kind, _, payload = line[len(MARK) :].partition(":")
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if kind == "DEVICE":
            run.devices.append(event)
        elif kind == "RESULT":
            run.results.append(event)
        elif kind == "FATAL":
            run.fatal = event
        elif kind == "DONE":
            run.done = True
        elif kind == "RANK":
            run.ranks.append(event)
        if on_event is not None:
            on_event(kind, event)

    result = process.stream(
        [python, str(script or CHILD)],
        timeout=timeout,
        on_line=handle,
        stdin_text=json.dumps(config),
        cwd=process.scratch_dir(),
    )
    run.timed_out, run.returncode, run.stderr, run.seconds = (
        result.timed_out,
        result.returncode,
        result.stderr,
        result.seconds,
    )
    if result.start_error:
        run.stderr = result.start_error
    return run
