"""The benchmark and collectives children's events, decoded into typed records (untrusted data).

A child prints GPUSETUP-<KIND>:<json> lines. Each is decoded here, field by field; a line of the wrong
shape becomes a BadEvent that verify reports as a failed row, never an exception. Fields that a newer
child adds are ignored here (each kind names the fields it reads).

The protocol, one line per event: DEVICE (ChildDevice) a device about to be measured; RESULT
(ChildResult) one measured, checked or skipped operation; SDPA (ChildSdpa) an attention backend that
did not run, with the facts torch's rules need and no verdict (verify/attention.py turns it into its
RESULT as it arrives); FATAL (ChildFatal); RANK (ChildRank, --collectives); DONE, the end.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Union

from gpusetup.errors import UsageError
from gpusetup.facts.child_json import ChildDataError, loads
from gpusetup.rules.sdpa import SdpaBackend, SdpaDtype
from gpusetup.verify.vocab import (
    BenchmarkName,
    DtypeName,
    EventKind,
    FatalName,
    SdpaOutcome,
    named,
)
from gpusetup.versions import ComputeCapability

SIZE_NUMBERS = ("m", "n", "k", "iters", "bytes", "batch", "channels", "height", "width", "kernel")


@dataclass(frozen=True)
class ChildDevice:
    """A device the child is about to measure (gpu -1: the CPU)."""

    gpu: int
    name: str
    capability: str = ""
    pci_bus_id: str = ""
    uuid: str = ""
    memory_mib: int = 0
    torch: str = "?"
    cuda: Optional[str] = None
    cudnn: Optional[int] = None
    threads: Optional[int] = None
    startup_seconds: Optional[float] = None
    unavailable: Dict[str, str] = field(
        default_factory=dict
    )  # fact -> why the child could not read it

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ChildResult:
    """One measured (or skipped, or failed) operation, before it is judged against a floor."""

    gpu: int
    name: str
    benchmark: BenchmarkName
    dtype: DtypeName
    value: Optional[float] = None
    unit: str = ""
    size: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    ok: bool = False
    reason: str = ""
    error: Optional[float] = None
    nonfinite: int = 0
    repeatable: Optional[bool] = None
    worst_vs_rms: Optional[float] = None


@dataclass(frozen=True)
class ChildSdpa:
    """An attention backend the child forced on that did not run: what happened, and the facts
    torch's rules (rules/sdpa.py) need to say whether this device must run it. No verdict."""

    gpu: int
    name: str
    backend: SdpaBackend
    dtype: SdpaDtype
    outcome: SdpaOutcome
    head_dim: int
    torch: str = "?"  # torch.__version__, pre-release and local tags included
    capability: str = ""  # the device's, as "9.0"; "" on the CPU
    flash_built: Optional[bool] = None  # is_flash_attention_available(); None: this torch lacks it
    message: str = ""  # refused: torch's words (its warnings' first lines, else the error)
    error_line: str = ""  # refused: the message's first error line, as every PT2 row picks it
    size: Dict[str, Any] = field(default_factory=dict)  # the workload's, as a RESULT's size
    seconds: float = 0.0  # refused: how long the attempt took

    def __post_init__(self) -> None:
        self.compute_capability()  # an unreadable capability is a malformed line, here

    def compute_capability(self) -> Optional[ComputeCapability]:
        """The device's compute capability; None on the CPU."""
        if not self.capability:
            return None
        try:
            return ComputeCapability.parse(self.capability)
        except UsageError:
            raise ChildDataError(
                f"capability: not a compute capability: {self.capability!r}"
            ) from None


@dataclass(frozen=True)
class ChildFatal:
    """The runtime cannot run at all: no torch, a CPU build, CUDA init failing, a bad device."""

    kind: FatalName
    error: str = ""


@dataclass(frozen=True)
class ChildRank:
    """One rank of --collectives: who it is and where it ran."""

    rank: int
    host: str
    gpu: str
    torch: str = "?"
    local_rank: int = 0


@dataclass(frozen=True)
class BadEvent:
    """A line the child printed that is not a well-formed event: verify fails with this reason."""

    kind: str
    reason: str


Event = Union[ChildDevice, ChildResult, ChildSdpa, ChildFatal, ChildRank, BadEvent, None]
KINDS: Dict[EventKind, Any] = {
    EventKind.DEVICE: ChildDevice,
    EventKind.RESULT: ChildResult,
    EventKind.SDPA: ChildSdpa,
    EventKind.FATAL: ChildFatal,
    EventKind.RANK: ChildRank,
}


def decode(kind: str, payload: str) -> Event:
    """A typed event; None for DONE and kinds this gpusetup does not know; BadEvent if malformed."""
    try:
        data = loads(payload)
        known = named(EventKind, kind)
        cls = KINDS.get(known) if isinstance(known, EventKind) else None  # DONE: no record
        return None if cls is None else record(cls, data)
    except ChildDataError as err:
        return BadEvent(kind, f"the benchmark printed a malformed {kind} line: {err}")


def record(cls: Any, data: Any) -> Any:
    """Build cls from a child's mapping, checking each field it reads; ChildDataError if wrong."""
    if not isinstance(data, Mapping):
        raise ChildDataError(f"expected an object, got {_kind(data)}")
    values: Dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.name in data and not (data[item.name] is None and _optional(item)):
            values[item.name] = _checked(cls, item, data[item.name])
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise ChildDataError(f"{item.name} is missing")
    return cls(**values)


def _optional(item: dataclasses.Field[Any]) -> bool:
    return item.default is None


def _checked(cls: Any, item: dataclasses.Field[Any], value: Any) -> Any:
    name, want = item.name, _base(cls, item)
    if want is dict:
        if not isinstance(value, Mapping):
            raise ChildDataError(f"{name}: expected an object, got {_kind(value)}")
        return _size(value) if name == "size" else _texts(name, value)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if _is_vocabulary(want):  # a closed set and nothing else: its text must name a member
        return _member(name, want, value)
    if (want is int and isinstance(value, bool)) or not isinstance(value, want):
        raise ChildDataError(f"{name}: expected {want.__name__}, got {_kind(value)}")
    vocabulary = _vocabulary(cls, item)
    return value if vocabulary is None else named(vocabulary, str(value))


def _member(name: str, vocabulary: Any, value: Any) -> Any:
    if isinstance(value, str):
        found = named(vocabulary, value)
        if isinstance(found, vocabulary):
            return found
    known = ", ".join(m.value for m in vocabulary)
    raise ChildDataError(f"{name}: expected one of {known}, got {value!r}"[:300])


@functools.cache
def _hints(cls: Any) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_vocabulary(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def _vocabulary(cls: Any, item: dataclasses.Field[Any]) -> Optional[type]:
    """The closed set a text field names (Union[Benchmark, str] -> Benchmark), if it has one."""
    return next(filter(_is_vocabulary, typing.get_args(_hints(cls)[item.name])), None)


def _base(cls: Any, item: dataclasses.Field[Any]) -> type:
    """The plain type of a field: int, float, str, bool or dict (Optional[X] -> X, a vocabulary
    or its text -> str)."""
    hint = _hints(cls)[item.name]
    inner = [a for a in typing.get_args(hint) if a is not type(None) and not _is_vocabulary(a)]
    base = typing.get_origin(hint) or hint
    if base is Union:
        base = typing.get_origin(inner[0]) or inner[0]
    return typing.cast(type, base)


def _size(size: Mapping[str, Any]) -> Dict[str, Any]:
    """The sizes of a measurement: scalars only, and the dimensions are whole numbers."""
    out: Dict[str, Any] = {}
    for key, value in size.items():
        number = isinstance(value, int) and not isinstance(value, bool)
        if key in SIZE_NUMBERS and not number:
            raise ChildDataError(f"size.{key}: expected int, got {_kind(value)}")
        if value is not None and not isinstance(value, (int, float, str, bool)):
            # None: a quantity that was not finite (a NaN loss), said in the row's reason
            raise ChildDataError(f"size.{key}: expected a number or a string, got {_kind(value)}")
        out[str(key)] = value
    return out


def _texts(name: str, mapping: Mapping[str, Any]) -> Dict[str, str]:
    """A mapping of names to reasons: strings only."""
    bad = [key for key, value in mapping.items() if not isinstance(value, str)]
    if bad:
        raise ChildDataError(f"{name}.{bad[0]}: expected str, got {_kind(mapping[bad[0]])}")
    return dict(mapping)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
