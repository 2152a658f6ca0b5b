"""Progress on long work, on stderr: a spinner with the running step's elapsed seconds on a
terminal, plain lines elsewhere (a CI log shows what ran; nothing redraws there)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from gpusetup.render.console import make_console, write_stderr

# A result's benchmark -> the step of verify's child that printed it.
_STEP_OF = {"conv-fwd": "conv", "conv-bwd": "conv", "d2h": "h2d"}
# Results after which their step has nothing more to print on that device (the child's order:
# conv-fwd then conv-bwd, h2d then d2h; a benchmark named after its step is the error row).
_LAST = {"matmul", "memory", "compile", "conv", "conv-bwd", "d2h"}
ANY = "-"  # a step measured once, whatever the dtype (bandwidth, the PyTorch 2 workloads)


def plan_steps(config: Dict[str, Any]) -> List[Tuple[str, str]]:
    """The (benchmark, dtype) steps verify's child takes on each device, in its order."""
    cpu = config.get("devices") == ["cpu"]
    steps: List[Tuple[str, str]] = []
    for benchmark in config.get("benchmarks", []):
        if benchmark == "p2p" or (benchmark == "h2d" and cpu):  # p2p: after all, between GPUs
            continue
        dtypes = config.get("dtypes", []) if benchmark in ("matmul", "conv") else [ANY]
        steps += [(benchmark, dtype) for dtype in dtypes]
    return steps


@dataclass
class StepTracker:
    """Which step is running, from the results printed so far. Every device takes each step
    together, so a step is done when each device printed its last result for it, or when a result
    of a later step arrives; a step whose result count is not known stays running until then."""

    steps: List[Tuple[str, str]]
    p2p: bool = False  # "p2p" was asked for: a last step when there are two GPUs or more
    devices: Set[int] = field(default_factory=set)
    index: int = 0  # the running step (== len(steps): all done)
    started: float = field(default_factory=time.monotonic)
    _closed: Dict[int, Set[int]] = field(default_factory=dict)

    def device(self, gpu: int) -> None:
        self.devices.add(gpu)
        if self.p2p and len(self.devices) == 2:
            self.steps.append(("p2p", ANY))

    def result(self, event: Dict[str, Any]) -> None:
        benchmark = str(event.get("benchmark"))
        step = _STEP_OF.get(benchmark, benchmark)
        found = next(
            (
                j
                for j in range(self.index, len(self.steps))
                if self.steps[j][0] == step and self.steps[j][1] in (ANY, event.get("dtype"))
            ),
            None,
        )
        if found is None:  # a row verify did not plan (an error row, a newer child): no move
            return
        self._move(found)
        closes = benchmark in _LAST or (benchmark == "conv-fwd" and event.get("value") is None)
        if closes:
            closed = self._closed.setdefault(found, set())
            closed.add(int(event.get("gpu", 0)))
            if len(closed) >= max(1, len(self.devices)):
                self._move(found + 1)

    def _move(self, index: int) -> None:
        if index != self.index:
            self.index, self.started = index, time.monotonic()

    @property
    def total(self) -> int:
        return len(self.steps)

    def running(self) -> Optional[str]:
        if not self.devices or self.index >= len(self.steps):
            return None
        benchmark, dtype = self.steps[self.index]
        return benchmark if dtype == ANY else f"{benchmark} {dtype}"

    def label(self) -> str:
        """What the spinner says: the running step, how many are done, its seconds so far."""
        seconds = f"{time.monotonic() - self.started:.0f} s"
        running = self.running()
        if running is None:
            what = "starting torch" if not self.devices else "finishing"
            return f"{what} · {seconds}"
        return f"{running} · step {self.index + 1} of {self.total} · {seconds}"


class _Live:
    """A transient spinner line on stderr whose text is asked for at each refresh."""

    def __init__(self, text: Callable[[], str]) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self._text, self._spinner = text, Spinner("dots", text="")
        self._live = Live(self, console=make_console(stderr=True), transient=True)

    def __rich__(self) -> Any:
        from rich.text import Text

        self._spinner.update(text=Text(self._text(), no_wrap=True, overflow="ellipsis"))
        return self._spinner

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()


class Activity:
    """One long wait (the torch probe): a spinner with elapsed seconds on a terminal, else one
    plain line when it starts."""

    def __init__(self, label: str, tty: bool) -> None:
        self.label, self.tty = label, tty
        self._live: Optional[_Live] = None
        self._started = time.monotonic()

    def __enter__(self) -> Activity:
        self._started = time.monotonic()
        if self.tty:
            self._live = _Live(lambda: f"{self.label} · {time.monotonic() - self._started:.0f} s")
            self._live.start()
        else:
            write_stderr(f"{self.label} ...")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()


def probing(python: Optional[str], timeout: float, tty: bool) -> Any:
    """The activity shown while doctor probes torch (nothing when there is no probe)."""
    import contextlib

    if not python:
        return contextlib.nullcontext()
    return Activity(f"probing torch in {python} (at most {timeout:g} s)", tty)


class VerifyProgress:
    """verify's progress: the running step and its seconds on a terminal; a plain line per
    device and per result elsewhere. Always on stderr."""

    def __init__(self, config: Dict[str, Any], tty: bool) -> None:
        self.tty = tty
        self.tracker = StepTracker(plan_steps(config), p2p="p2p" in config.get("benchmarks", []))
        self.tracker.p2p = self.tracker.p2p and config.get("devices") != ["cpu"]
        self._live: Optional[_Live] = None

    def __enter__(self) -> VerifyProgress:
        if self.tty:
            self._live = _Live(self.tracker.label)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def event(self, kind: str, event: Dict[str, object]) -> None:
        from gpusetup.render.verify import progress_line

        if kind == "DEVICE":
            self.tracker.device(int(str(event.get("gpu", 0))))
        elif kind == "RESULT":
            self.tracker.result(event)
        if self.tty:
            return
        if kind == "RESULT":  # steps done of all: a step may print several results
            done = f"[{self.tracker.index}/{self.tracker.total}]"
            write_stderr(f"{done} {progress_line(event)}")
        elif kind == "DEVICE":
            gpu = event.get("gpu")
            where = "cpu" if gpu == -1 else f"gpu{gpu} {event.get('name')}"
            write_stderr(f"measuring {where} ...")
