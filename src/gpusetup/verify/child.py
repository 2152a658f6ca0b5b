"""Runs the benchmark child in the target interpreter and collects its events (I/O only)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from gpusetup.plumbing import process
from gpusetup.verify.attention import judged
from gpusetup.verify.events import (
    BadEvent,
    ChildDevice,
    ChildFatal,
    ChildRank,
    ChildResult,
    ChildSdpa,
    decode,
)
from gpusetup.verify.vocab import EventKind

CHILD = Path(__file__).with_name("_bench_child.py")
COLLECTIVES = Path(__file__).with_name("_collectives_child.py")
MARK = "GPUSETUP-"


@dataclass
class ChildRun:
    devices: List[ChildDevice] = field(default_factory=list)
    ranks: List[ChildRank] = field(default_factory=list)
    results: List[ChildResult] = field(default_factory=list)
    bad: List[BadEvent] = field(default_factory=list)  # lines of the wrong shape, each a failed row
    fatal: Optional[ChildFatal] = None
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

    def take(self, kind: str, payload: str) -> Any:
        """Decode one event line into its record and keep it; the record (None: nothing kept). An
        attention backend that did not run becomes its judged RESULT here, before anyone sees it."""
        event = decode(kind, payload)
        if isinstance(event, ChildSdpa):
            event = judged(event)
        if kind == EventKind.DONE:
            self.done = True
        if isinstance(event, ChildDevice):
            self.devices.append(event)
        elif isinstance(event, ChildResult):
            self.results.append(event)
        elif isinstance(event, ChildFatal):
            self.fatal = event
        elif isinstance(event, ChildRank):
            self.ranks.append(event)
        elif isinstance(event, BadEvent):
            self.bad.append(event)
        return event


def run_child(
    python: str,
    config: Dict[str, Any],
    timeout: float,
    on_event: Optional[Callable[[str, Dict[str, Any]], None]] = None,
    script: Optional[Path] = None,
) -> ChildRun:
    """Run a benchmark child; on_event gets each well-formed event as a plain mapping."""
    run = ChildRun()

    def handle(line: str) -> None:
        if not line.startswith(MARK) or ":" not in line:
            return
        kind, _, payload = line[len(MARK) :].partition(":")
        event = run.take(kind, payload)
        if on_event is not None and event is not None and not isinstance(event, BadEvent):
            shown = EventKind.RESULT.value if isinstance(event, ChildResult) else kind  # SDPA too
            on_event(shown, dataclasses.asdict(event))

    result = process.stream(
        [python, str(script or CHILD)],
        timeout=timeout,
        on_line=handle,
        stdin_text=json.dumps(config),
        scratch=True,
        final=lambda line: line.startswith(f"{MARK}{EventKind.DONE}:"),
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
