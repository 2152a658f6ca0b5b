"""Per-GPU health from NVML: memory errors, throttling, PCIe link, modes, power, other tenants."""

from __future__ import annotations

from typing import Iterator

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import GpuFacts, reason_names

ERROR, WARNING = Severity.ERROR, Severity.WARNING

# Reasons that mean the hardware is being held back, whatever the load.
_BAD_REASONS = 0x8 | 0x20 | 0x40 | 0x80


def _label(gpu: GpuFacts) -> str:
    return f"GPU {gpu.index} ({gpu.name})" if gpu.name else f"GPU {gpu.index}"


@check(
    ecc_errors="uncorrectable ECC memory errors",
    row_remap_pending="a remapped row or retired page waits for a GPU reset",
    row_remap_failed="the GPU ran out of spare rows: the board needs replacing",
)
def memory_errors(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        if (gpu.ecc_uncorrected_volatile or 0) > 0:
            yield Finding(
                "ecc-errors",
                ERROR,
                f"{_label(gpu)}: {gpu.ecc_uncorrected_volatile} uncorrectable ECC errors since boot",
                f"Stop jobs on it and reset it: sudo nvidia-smi -r -i {gpu.index} (or reboot); if "
                "errors come back, drain the node and RMA the board",
                {
                    "gpu": gpu.index,
                    "volatile": gpu.ecc_uncorrected_volatile,
                    "aggregate": gpu.ecc_uncorrected_aggregate,
                },
            )
        elif (gpu.ecc_uncorrected_aggregate or 0) > 0:
            yield Finding(
                "ecc-errors",
                WARNING,
                f"{_label(gpu)}: {gpu.ecc_uncorrected_aggregate} uncorrectable ECC errors in its lifetime",
                f"None since boot; watch it with: nvidia-smi -q -d ECC,ROW_REMAPPER -i {gpu.index}",
                {"gpu": gpu.index, "aggregate": gpu.ecc_uncorrected_aggregate},
            )
        if gpu.remapped_rows_failure:
            yield Finding(
                "row-remap-failed",
                ERROR,
                f"{_label(gpu)}: row remapping failed (no spare rows left)",
                "Drain the node and RMA the GPU: a remap failure is not repairable in the field",
                {"gpu": gpu.index, "remapped_rows_uncorrectable": gpu.remapped_rows_uncorrectable},
            )
        if gpu.remapped_rows_pending or gpu.retired_pages_pending:
            yield Finding(
                "row-remap-pending",
                ERROR,
                f"{_label(gpu)}: a memory row remap / page retirement is pending a GPU reset",
                f"Reset the GPU with nothing running on it: sudo nvidia-smi -r -i {gpu.index} (or reboot)",
                {
                    "gpu": gpu.index,
                    "remapped_rows_pending": gpu.remapped_rows_pending,
                    "retired_pages_pending": gpu.retired_pages_pending,
                },
            )


@check(gpu_throttled="clocks held back by a thermal, power-brake or hardware slowdown")
def throttling(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        mask = gpu.clocks_event_reasons or 0
        if mask & _BAD_REASONS:
            yield Finding(
                "gpu-throttled",
                WARNING,
                f"{_label(gpu)}: clocks throttled ({', '.join(reason_names(mask & _BAD_REASONS))})",
                "Thermal: check airflow, fans and dust; power brake / HW slowdown: check the PCIe power "
                "cables and the PSU; then confirm under load with: gpusetup verify",
                {
                    "gpu": gpu.index,
                    "reasons": reason_names(mask),
                    "temperature_c": gpu.temperature_c,
                    "sm_clock_mhz": gpu.sm_clock_mhz,
                    "sm_clock_max_mhz": gpu.sm_clock_max_mhz,
                },
            )


@check(pcie_link_degraded="the PCIe link runs narrower or slower than the slot and GPU allow")
def pcie(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        narrow = _below(gpu.pcie_width_current, gpu.pcie_width_max)
        idle = bool((gpu.clocks_event_reasons or 0) & 0x1)
        # An idle GPU drops its link generation to save power: only judge the generation under load.
        slow = (
            _below(gpu.pcie_gen_current, gpu.pcie_gen_max)
            and gpu.clocks_event_reasons is not None
            and not idle
        )
        if narrow or slow:
            yield Finding(
                "pcie-link-degraded",
                WARNING,
                f"{_label(gpu)}: PCIe link Gen{gpu.pcie_gen_current} x{gpu.pcie_width_current}, "
                f"capable of Gen{gpu.pcie_gen_max} x{gpu.pcie_width_max}",
                "Reseat the card in an x16 slot (check the slot's wiring and any riser), check BIOS PCIe "
                "settings, then measure host<->device bandwidth with: gpusetup verify",
                {
                    "gpu": gpu.index,
                    "gen": [gpu.pcie_gen_current, gpu.pcie_gen_max],
                    "width": [gpu.pcie_width_current, gpu.pcie_width_max],
                },
            )


def _below(current: object, maximum: object) -> bool:
    return isinstance(current, int) and isinstance(maximum, int) and 0 < current < maximum


@check(mig_enabled="MIG splits a GPU: CUDA sees one instance per process, not the GPU")
def mig(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        if gpu.mig_enabled:
            yield Finding(
                "mig-enabled",
                WARNING,
                f"{_label(gpu)}: MIG mode is on; a process sees at most one MIG instance",
                "Pick an instance: CUDA_VISIBLE_DEVICES=MIG-<uuid> (nvidia-smi -L lists them), or turn "
                f"MIG off (admin): sudo nvidia-smi -i {gpu.index} -mig 0 && sudo nvidia-smi -r -i {gpu.index}",
                {"gpu": gpu.index, "mig_pending": gpu.mig_pending},
            )


@check(gpu_memory_in_use="other processes hold most of a GPU's memory")
def memory_in_use(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        total, used = gpu.memory_total_mib, gpu.memory_used_mib
        if not total or used is None or used < total * 0.5:
            continue
        procs = [f"{p.pid} {p.name}".strip() for p in gpu.processes]
        yield Finding(
            "gpu-memory-in-use",
            WARNING,
            f"{_label(gpu)}: {used} of {total} MiB already in use",
            (
                f"Stop the processes holding it (kill {' '.join(str(p.pid) for p in gpu.processes)}) "
                if gpu.processes
                else "Find the holder (in a container the PIDs live on the host: run "
                "nvidia-smi there) "
            )
            + "or choose a free GPU with CUDA_VISIBLE_DEVICES",
            {"gpu": gpu.index, "used_mib": used, "total_mib": total, "processes": procs},
        )


@check(compute_mode_exclusive="the compute mode lets only one process (or none) use a GPU")
def compute_mode(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        mode = gpu.compute_mode
        if mode in ("exclusive-process", "exclusive-thread", "prohibited"):
            yield Finding(
                "compute-mode-exclusive",
                ERROR if mode == "prohibited" else Severity.WARNING,
                f"{_label(gpu)}: compute mode {mode}"
                + (
                    " (no process may use it)"
                    if mode == "prohibited"
                    else " (one process at a time)"
                ),
                "'all CUDA-capable devices are busy or unavailable' follows when it is taken; an admin "
                f"restores sharing with: sudo nvidia-smi -i {gpu.index} -c DEFAULT",
                {"gpu": gpu.index, "compute_mode": mode},
            )


@check(power_capped="the enforced power limit is below the board's default")
def power(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        limit, default = gpu.power_limit_w, gpu.power_default_limit_w
        if limit and default and limit < default * 0.95:
            yield Finding(
                "power-capped",
                WARNING,
                f"{_label(gpu)}: power capped at {limit:.0f} W (default {default:.0f} W)",
                f"Expect lower throughput; an admin restores it with: sudo nvidia-smi -i {gpu.index} "
                f"-pl {default:.0f}",
                {"gpu": gpu.index, "enforced_w": limit, "default_w": default},
            )


@check(gpu_temperature_high="a GPU is within 5 °C of its slowdown temperature")
def temperature(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        temp, slowdown = gpu.temperature_c, gpu.temperature_slowdown_c
        if temp is not None and slowdown and temp >= slowdown - 5:
            yield Finding(
                "gpu-temperature-high",
                WARNING,
                f"{_label(gpu)}: {temp} °C, slowdown at {slowdown} °C",
                "Improve cooling (airflow, fan curve, dust) before long runs",
                {"gpu": gpu.index, "temperature_c": temp, "slowdown_c": slowdown},
            )


@check(mode_change_pending="an ECC or MIG mode change waits for a GPU reset or reboot")
def pending_modes(ctx: Context) -> Iterator[Finding]:
    for gpu in ctx.gpus:
        changes = []
        if (
            gpu.ecc_pending is not None
            and gpu.ecc_enabled is not None
            and gpu.ecc_pending != gpu.ecc_enabled
        ):
            changes.append(f"ECC {'on' if gpu.ecc_pending else 'off'}")
        if (
            gpu.mig_pending is not None
            and gpu.mig_enabled is not None
            and gpu.mig_pending != gpu.mig_enabled
        ):
            changes.append(f"MIG {'on' if gpu.mig_pending else 'off'}")
        if changes:
            yield Finding(
                "mode-change-pending",
                Severity.INFO,
                f"{_label(gpu)}: {' and '.join(changes)} requested, not yet in effect",
                f"Apply it with nothing running on the GPU: sudo nvidia-smi -r -i {gpu.index} (or reboot)",
                {
                    "gpu": gpu.index,
                    "ecc": [gpu.ecc_enabled, gpu.ecc_pending],
                    "mig": [gpu.mig_enabled, gpu.mig_pending],
                },
            )
