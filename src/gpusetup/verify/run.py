"""One verify run: the benchmark child on the chosen devices, NVML sampled meanwhile, every row judged."""

from __future__ import annotations

import platform
import shlex
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Dict, List, NoReturn, Tuple

from gpusetup.errors import MissingRequirement, UsageError
from gpusetup.facts.model import reason_names
from gpusetup.facts.nvml import Sampler, collect_nvml
from gpusetup.facts.target import Target
from gpusetup.profiles.model import Profiles
from gpusetup.verify.child import run_child
from gpusetup.verify.config import parse_devices, visible_gpu_count
from gpusetup.verify.events import ChildDevice, ChildFatal
from gpusetup.verify.pt2 import explain_compile_failures
from gpusetup.verify.score import Floors, Row, VerifyResult, score
from gpusetup.verify.vocab import PT2_WORKLOADS, Benchmark, Dtype, FatalKind

EventSink = Callable[[str, Dict[str, Any]], None]


@dataclass(frozen=True)
class VerifyRequest:
    """What to measure and how hard: from verify's options, already checked."""

    device: str  # --device as given
    dtypes: List[Dtype]
    mode: str  # quick or full
    quick: bool
    compile_train: bool
    floors: Floors
    limit: float  # seconds the whole run may take
    profiles: Profiles


@dataclass(frozen=True)
class Hooks:
    """What a run needs from the layers around verify/: the CLI's progress display, and doctor's
    GPU-count rule and diagnosis (verify/ imports neither)."""

    progress: Callable[[Dict[str, Any]], ContextManager[EventSink]]  # given the child's config
    require_gpus: Callable[[int], None]  # given the GPUs visible; raises when too few
    explain_unusable: Callable[[str, float], str]  # python, timeout -> doctor's findings


def run_verify(request: VerifyRequest, target: Target, hooks: Hooks) -> VerifyResult:
    """Measure, then judge each row against fp64 and the datasheet peak (or the given floors)."""
    driver, gpus = collect_nvml()
    visible = visible_gpu_count(driver.nvml, gpus)
    hooks.require_gpus(visible or 0)
    devices = parse_devices(request.device, visible)
    config = {
        "devices": devices,
        "dtypes": request.dtypes,
        "mode": request.mode,
        # the child's parts, not row names: conv measures conv-fwd and conv-bwd, h2d also d2h
        "benchmarks": ["matmul", "conv", "memory", "h2d", "p2p", *PT2_WORKLOADS],
        "quick": request.quick,
        "compile_train": request.compile_train,
    }
    started = time.monotonic()
    with Sampler() as sampler, hooks.progress(config) as sink:
        run = run_child(target.path, config, request.limit, sink)
    if run.fatal:
        no_runtime(run.fatal, target.path, request.limit, hooks)
    pcie, telemetry = by_device(run.devices, gpus, sampler.telemetry)
    rows = explain_compile_failures(
        score(run.results, request.profiles, request.floors, pcie, telemetry)
    )
    rows += [crash_row(bad.reason, run.devices) for bad in run.bad]
    if run.crash:
        rows.append(crash_row(run.crash, run.devices))
    return VerifyResult(
        device=request.device,
        mode=request.mode,
        rows=rows,
        devices=[d.to_dict() for d in run.devices],
        telemetry={str(k): telemetry_summary(v) for k, v in telemetry.items()},
        seconds=time.monotonic() - started,
        host=platform.node(),
        python=python_record(target),
    )


def python_record(target: Target) -> Dict[str, str]:
    return {"path": target.path, "reason": target.reason.value, "why": target.describe()}


def by_device(
    devices: List[ChildDevice], gpus: List[Any], sampled: Dict[str, Any]
) -> Tuple[Dict[int, Tuple[int, int]], Dict[int, Any]]:
    """Each measured device's PCIe capability and NVML telemetry, matched by PCI bus id
    (the child numbers devices as CUDA does; NVML numbers them in bus order)."""
    by_bus = {g.pci_bus_id.upper(): g for g in gpus}
    pcie: Dict[int, Tuple[int, int]] = {}
    telemetry: Dict[int, Any] = {}
    for dev in devices:
        gpu = by_bus.get(dev.pci_bus_id.upper())
        if gpu is None:
            continue
        if gpu.pcie_gen_max and gpu.pcie_width_max:
            pcie[dev.gpu] = (gpu.pcie_gen_max, gpu.pcie_width_max)
        if gpu.pci_bus_id in sampled:
            telemetry[dev.gpu] = sampled[gpu.pci_bus_id]
    return pcie, telemetry


def no_runtime(fatal: ChildFatal, python: str, timeout: float, hooks: Hooks) -> NoReturn:
    """The child could not measure at all: a bad --device (exit 2), or no torch or GPU runtime (3)."""
    kind, error = fatal.kind, fatal.error
    if kind == FatalKind.BAD_DEVICE:
        raise UsageError(f"--device: {error}")
    if kind == FatalKind.TORCH_MISSING:
        raise MissingRequirement(
            f"torch is not installed in {python}: verify needs it",
            f"install the right build into it: gpusetup install --cuda auto --python {shlex.quote(python)}"
            " (or --cuda cpu without a GPU)",
        )
    hints = hooks.explain_unusable(python, timeout)
    raise MissingRequirement(
        f"no usable GPU runtime ({kind}): {error}",
        hints or f"run gpusetup doctor --python {python}",
    )


def crash_row(message: str, devices: List[ChildDevice]) -> Row:
    """A failed row for a child that died or printed a broken line: the run fails, saying why."""
    gpu = devices[-1].gpu if devices else 0
    name = devices[-1].name if devices else "unknown"
    return Row(
        gpu=gpu,
        name=name,
        benchmark=Benchmark.RUN,
        dtype="-",
        value=None,
        unit="",
        fraction_of_peak=None,
        floor=None,
        ok=False,
        reason=message,
    )


def telemetry_summary(t: Any) -> Dict[str, Any]:
    """One device's NVML samples, summarised for the report."""
    return {
        "samples": t.samples,
        "sm_clock_mhz_median": statistics.median(t.sm_clock_mhz) if t.sm_clock_mhz else None,
        "power_w_max": max(t.power_w) if t.power_w else None,
        "temperature_c_max": max(t.temperature_c) if t.temperature_c else None,
        "clock_event_reasons": reason_names(t.reasons),
        "power_limit_w": t.power_limit_w,
        "power_default_limit_w": t.power_default_limit_w,
        "pcie_under_load": [t.pcie_gen_max_seen, t.pcie_width_min_seen],
    }
