"""Scoring verify's raw measurements: correctness first, then speed against a floor, with causes.

Pure: raw results, GPU facts, telemetry and profile data in; a VerifyResult out.
"""

from __future__ import annotations

import statistics
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from gpusetup.errors import ExitCode
from gpusetup.facts.model import Telemetry, reason_names
from gpusetup.profiles.model import GpuModel, GpusFile, Profiles
from gpusetup.verify.events import ChildResult, record
from gpusetup.verify.vocab import PCIE_COPIES, PT2_WORKLOADS, Benchmark, BenchmarkName, DtypeName

VERIFY_SCHEMA = "gpusetup.verify/1"
NODE_SPREAD = 0.10  # a GPU this far below the node median is named


@dataclass(frozen=True)
class Floors:
    """How fast is fast enough: the profile's default, a fraction of peak, or absolute TFLOP/s."""

    min_fraction: Optional[float] = None
    min_tflops: Dict[str, float] = field(default_factory=dict)  # keyed by a Dtype or a Benchmark


@dataclass
class Row:
    gpu: int
    name: str
    benchmark: BenchmarkName
    dtype: DtypeName
    value: Optional[float]
    unit: str
    fraction_of_peak: Optional[float]
    floor: Optional[float]
    ok: bool
    reason: str
    skipped: bool = False
    seconds: float = 0.0
    size: Dict[str, Any] = field(default_factory=dict)
    error: Optional[float] = None  # relative Frobenius error vs fp64
    worst: Optional[float] = None  # largest single error vs fp64, in RMS units of the reference

    def to_dict(self) -> Dict[str, Any]:
        return {
            "gpu": self.gpu,
            "name": self.name,
            "benchmark": self.benchmark,
            "dtype": self.dtype,
            "value": self.value,
            "unit": self.unit,
            "fraction_of_peak": self.fraction_of_peak,
            "floor": self.floor,
            "ok": self.ok,
            "reason": self.reason,
            "skipped": self.skipped,
            "seconds": self.seconds,
            "size": self.size,
            "error_vs_fp64": self.error,
            "worst_error_vs_rms": self.worst,
        }


@dataclass
class VerifyResult:
    device: str
    mode: str
    rows: List[Row]
    devices: List[Dict[str, Any]] = field(default_factory=list)
    telemetry: Dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    host: str = ""
    python: Dict[str, str] = field(default_factory=dict)  # path, reason, why (facts.target)

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.PROBLEMS

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": VERIFY_SCHEMA,
            "host": self.host,
            "python": self.python,
            "device": self.device,
            "mode": self.mode,
            "passed": self.passed,
            "exit_code": int(self.exit_code),
            "seconds": round(self.seconds, 2),
            "devices": self.devices,
            "telemetry": self.telemetry,
            "results": [r.to_dict() for r in self.rows],
        }


def rate_text(value: float) -> str:
    """A rate for people: 4 significant digits, at most 3 decimals (JSON keeps every digit)."""
    if abs(value) >= 1 or value == 0:
        return f"{value:,.4g}"
    return f"{value:.3f}" if abs(value) >= 0.001 else f"{value:.2g}"


def peak(
    model: Optional[GpuModel],
    gpus: Optional[GpusFile],
    benchmark: BenchmarkName,
    dtype: DtypeName,
    pcie: Optional[tuple[int, int]],
) -> Optional[float]:
    """The datasheet number a measurement is compared with (TFLOP/s or GB/s)."""
    if benchmark in PCIE_COPIES:
        if gpus is None or pcie is None or str(pcie[0]) not in gpus.pcie_gbps:
            return None
        return gpus.pcie_gbps[str(pcie[0])] * pcie[1]
    if (
        model is None or benchmark == Benchmark.COMPILE
    ):  # compile reports a speedup over eager, not a rate
        return None
    if benchmark == Benchmark.MEMORY:
        return model.memory_gbps
    return model.peak_tflops.get(dtype)


def is_mig_slice(device_name: str) -> bool:
    """CUDA names a MIG instance after its GPU and profile: 'NVIDIA A100-SXM4-80GB MIG 3g.40gb'."""
    return " MIG " in f" {device_name} "


def default_floor(
    gpus: Optional[GpusFile], benchmark: BenchmarkName, dtype: DtypeName, top: float
) -> Optional[float]:
    if gpus is None:
        return None
    achieved = gpus.achieved.get(benchmark)
    fraction = achieved.get(dtype) if isinstance(achieved, dict) else achieved
    return top * float(fraction) * gpus.floor_factor if fraction else None


Raw = Union[ChildResult, Mapping[str, Any]]  # a decoded event, or a recorded one as a mapping


def score(
    raw: Sequence[Raw],
    profiles: Profiles,
    floors: Floors,
    pcie: Dict[int, tuple[int, int]],
    telemetry: Dict[int, Telemetry],
) -> List[Row]:
    decoded = [_decoded(r) for r in raw]
    rows = [_row(r, profiles, floors, pcie.get(r.gpu), telemetry.get(r.gpu)) for r in decoded]
    _compare_to_node_median(rows)
    return rows


def _decoded(r: Raw) -> ChildResult:
    return r if isinstance(r, ChildResult) else typing.cast(ChildResult, record(ChildResult, r))


def row_from_raw(raw: Raw) -> Row:
    """A child's RESULT event as a row, not yet judged against a floor."""
    r = _decoded(raw)
    return Row(
        gpu=r.gpu,
        name=r.name,
        benchmark=r.benchmark,
        dtype=r.dtype,
        value=r.value,
        unit=r.unit,
        fraction_of_peak=None,
        floor=None,
        ok=r.ok,
        reason=r.reason,
        seconds=r.seconds,
        size=dict(r.size),
        error=r.error,
        worst=r.worst_vs_rms,
    )


def _row(
    r: ChildResult,
    profiles: Profiles,
    floors: Floors,
    pcie: Optional[tuple[int, int]],
    telemetry: Optional[Telemetry],
) -> Row:
    row = row_from_raw(r)
    if row.value is None:
        row.skipped = row.ok
        return row
    slice_ = is_mig_slice(row.name)
    model = profiles.gpu_model(row.name) if row.gpu >= 0 and not slice_ else None
    top = None if slice_ else peak(model, profiles.gpus, row.benchmark, row.dtype, pcie)
    if top:
        row.fraction_of_peak = round(row.value / top, 4)
    row.floor = _floor(floors, profiles.gpus, row, top)
    if not row.ok:  # wrong numbers: speed is not judged
        return row
    if row.value <= 0:  # a benchmark that ran took time: zero means the measurement is broken
        row.ok = False
        row.reason = f"a rate of {rate_text(row.value)} {row.unit}: the measurement is broken"
        return row
    if row.floor is None:
        if row.gpu < 0:
            unjudged = "not judged (CPU)"
        elif row.benchmark in PT2_WORKLOADS:
            unjudged = "reported, not judged (no published reference for this workload)"
        elif slice_:
            unjudged = "a MIG slice holds part of the GPU: speed reported, not judged (--min-tflops sets a floor)"
        else:
            unjudged = f"no datasheet numbers for {row.name}: speed reported, not judged"
        row.reason = row.reason or unjudged
        return row
    if row.value < row.floor:
        row.ok = False
        share = f" ({row.fraction_of_peak:.0%} of peak)" if row.fraction_of_peak is not None else ""
        row.reason = f"{rate_text(row.value)} {row.unit} < floor {row.floor:.4g}{share}" + _causes(
            row, telemetry, pcie
        )
    return row


def _floor(
    floors: Floors, gpus: Optional[GpusFile], row: Row, top: Optional[float]
) -> Optional[float]:
    if row.unit == "TFLOP/s" and row.benchmark in floors.min_tflops:  # --min-tflops attention=...
        return floors.min_tflops[row.benchmark]
    if (
        row.unit == "TFLOP/s"
        and row.dtype in floors.min_tflops
        and row.benchmark not in PT2_WORKLOADS
    ):
        return floors.min_tflops[row.dtype]
    if top is None:
        return None
    if floors.min_fraction is not None:
        return round(top * floors.min_fraction, 3)
    floor = default_floor(gpus, row.benchmark, row.dtype, top)
    return round(floor, 3) if floor is not None else None


def _causes(row: Row, t: Optional[Telemetry], pcie: Optional[tuple[int, int]]) -> str:
    """What NVML saw while it ran: the likely reason a GPU was slow."""
    if t is None or not t.samples:
        return ""
    causes = []
    bad = reason_names(t.reasons & ~0x1)
    if bad:
        causes.append(" and ".join(bad) + " active")
    if (
        t.power_limit_w
        and t.power_default_limit_w
        and t.power_limit_w < 0.95 * t.power_default_limit_w
    ):
        causes.append(
            f"SwPowerCap: {t.power_limit_w:.0f} W enforced vs {t.power_default_limit_w:.0f} W default"
        )
    if t.temperature_c:
        causes.append(f"up to {max(t.temperature_c)} °C")
    if t.sm_clock_mhz:
        causes.append(f"SM clock median {statistics.median(t.sm_clock_mhz):.0f} MHz")
    if (
        row.benchmark in PCIE_COPIES
        and pcie
        and t.pcie_gen_max_seen
        and (t.pcie_gen_max_seen < pcie[0] or (t.pcie_width_min_seen or 99) < pcie[1])
    ):
        causes.append(
            f"PCIe Gen{t.pcie_gen_max_seen} x{t.pcie_width_min_seen} under load (capable of Gen{pcie[0]} x{pcie[1]})"
        )
    return ": " + "; ".join(causes) if causes else ""


def _compare_to_node_median(rows: List[Row]) -> None:
    """With several GPUs of one model (or MIG profile), name the ones well below their median."""
    groups: Dict[tuple[str, str, str, str], List[Row]] = {}
    for row in rows:
        if row.value is not None and row.gpu >= 0:
            key = (row.benchmark, row.dtype, row.name, str(row.size.get("backend", "")))
            groups.setdefault(key, []).append(row)
    for group in groups.values():
        if len(group) < 2:
            continue
        median = statistics.median(r.value for r in group if r.value is not None)
        for row in group:
            if row.value is not None and row.value < median * (1 - NODE_SPREAD):
                note = f"{1 - row.value / median:.0%} below the node median {median:g} {row.unit}"
                row.reason = f"{row.reason}; {note}" if row.reason else note
