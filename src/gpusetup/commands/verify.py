"""gpusetup verify: real matmul, convolution and copy work on each GPU, checked, timed and judged."""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import typer

from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.validate import optional_timeout, writable_file
from gpusetup.errors import CommandFailed, MissingRequirement, UsageError
from gpusetup.facts.target import PYTHON_HELP, checked_target
from gpusetup.render.console import make_console

if TYPE_CHECKING:
    from gpusetup.verify.events import ChildDevice, ChildFatal

DTYPES = ("fp32", "tf32", "fp16", "bf16", "fp8")
PT2_WORKLOADS = (
    "attention",
    "train-step",
    "compile",
)  # compile last: a hung compile ends the child
FLOOR_WORKLOADS = (
    "attention",
    "train-step",
)  # rows in TFLOP/s that --min-tflops NAME=... may floor
QUICK_DTYPES = ("fp32", "tf32", "bf16", "fp8")


@cli_edge
def verify(
    device: str = typer.Option(
        "all", "--device", help="all, cpu, or GPU indices as torch numbers them: 0 or 0,2."
    ),
    dtype: Optional[str] = typer.Option(
        None,
        "--dtype",
        help="Comma list of fp32,tf32,fp16,bf16,fp8 [quick: fp32,tf32,bf16,fp8; full: all].",
    ),
    full: bool = typer.Option(False, "--full", help="Larger sizes, more samples, every dtype."),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="The default: short sizes and samples (goal: the whole run within 20 s on an H100).",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the JSON report (gpusetup.verify/1)."
    ),
    junit: Optional[str] = typer.Option(None, "--junit", help="Also write JUnit XML to this file."),
    min_fraction: Optional[float] = typer.Option(
        None, "--min-fraction", help="Floor as a fraction of the datasheet peak (e.g. 0.6)."
    ),
    min_tflops: List[str] = typer.Option(
        [], "--min-tflops", help="Absolute floor per dtype, e.g. bf16=500 (repeatable)."
    ),
    python: Optional[str] = typer.Option(None, "--python", help=PYTHON_HELP),
    expect_gpus: Optional[str] = typer.Option(
        None, "--expect-gpus", help="Fail (exit 1) when fewer GPUs than this are visible: for CI."
    ),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", help="Seconds the whole run may take [quick 240, full 1200]."
    ),
    profiles_dir: List[str] = typer.Option(
        [], "--profiles", help="Extra profile directory (repeatable)."
    ),
    compile_train: bool = typer.Option(
        False, "--compile", help="Also run the train-step workload through torch.compile."
    ),
    collectives: bool = typer.Option(
        False,
        "--collectives",
        help="All-reduce/all-gather/reduce-scatter across every rank; run under torchrun or srun.",
    ),
) -> None:
    """Run GPU matmul, convolution and bandwidth checks through the installed torch; pass/fail for CI."""
    timeout = optional_timeout(timeout)
    if collectives:
        _collectives(device, python, timeout, json_out, junit)
        return
    from gpusetup.doctor.checks.gpu_count import parse_expect_gpus, require_gpus
    from gpusetup.facts.nvml import Sampler, collect_nvml
    from gpusetup.profiles.load import load_profiles
    from gpusetup.verify.child import run_child
    from gpusetup.verify.pt2 import explain_compile_failures
    from gpusetup.verify.score import Floors, VerifyResult, score

    if quick and full:
        raise UsageError("--quick and --full exclude each other")
    mode = "full" if full else "quick"
    dtypes = parse_dtypes(dtype, mode)
    floors = Floors(
        min_fraction=parse_fraction(min_fraction), min_tflops=parse_min_tflops(min_tflops)
    )
    check_junit_path(junit)
    expected = parse_expect_gpus(expect_gpus)
    profiles = load_profiles(profiles_dir)
    limit = timeout or (1200.0 if full else 240.0)
    target = checked_target(python, timeout=limit)
    interpreter = target.path
    driver, gpus = collect_nvml()
    visible = visible_gpu_count(driver.nvml, gpus)
    require_gpus(expected, visible or 0)
    devices = parse_devices(device, visible)
    config = {
        "devices": devices,
        "dtypes": dtypes,
        "mode": mode,
        "benchmarks": ["matmul", "conv", "memory", "h2d", "p2p", *PT2_WORKLOADS],
        "quick": quick,
        "compile_train": compile_train,
    }
    started = time.monotonic()
    from gpusetup.render.verify import Progress

    progress = Progress(expected_results(devices, dtypes), sys.stderr.isatty())
    with Sampler() as sampler, progress:
        run = run_child(interpreter, config, limit, progress.event)
    if run.fatal:
        _fatal(run.fatal, interpreter, limit)
    pcie, telemetry = _by_device(run.devices, gpus, sampler.telemetry)
    rows = explain_compile_failures(score(run.results, profiles, floors, pcie, telemetry))
    rows += [_crash_row(bad.reason, run.devices) for bad in run.bad]
    if run.crash:
        rows.append(_crash_row(run.crash, run.devices))
    result = VerifyResult(
        device=device,
        mode=mode,
        rows=rows,
        devices=[d.to_dict() for d in run.devices],
        telemetry={str(k): _telemetry_summary(v) for k, v in telemetry.items()},
        seconds=time.monotonic() - started,
        host=platform.node(),
        python={"path": interpreter, "reason": target.reason.value, "why": target.describe()},
    )
    _output(result, json_out, junit)
    raise typer.Exit(int(result.exit_code))


def _by_device(
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


LAUNCH_HINT = (
    "start one process per GPU with a launcher: torchrun --nproc-per-node 8 -m gpusetup verify --collectives "
    "(across nodes: torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 "
    "-m gpusetup verify --collectives; Slurm: MASTER_ADDR=<first node> MASTER_PORT=29500 srun "
    "--ntasks-per-node 8 python -m gpusetup verify --collectives)"
)


def _launched() -> bool:
    env = os.environ
    torchrun = "RANK" in env and "WORLD_SIZE" in env
    slurm = "SLURM_PROCID" in env and "SLURM_NTASKS" in env and "MASTER_ADDR" in env
    return torchrun or slurm


def _collectives(
    device: str,
    python: Optional[str],
    timeout: Optional[float],
    json_out: bool,
    junit: Optional[str],
) -> None:
    """One rank's share of --collectives; rank 0 reports every rank."""
    from gpusetup.verify.child import COLLECTIVES, run_child
    from gpusetup.verify.score import VerifyResult, row_from_raw

    if not _launched():
        raise UsageError(
            "--collectives needs a launcher: no RANK/WORLD_SIZE (torchrun) or SLURM_PROCID (srun)",
            LAUNCH_HINT,
        )
    if device not in ("all", "cpu"):
        raise UsageError(
            f"--device {device}: with --collectives each rank uses its LOCAL_RANK GPU",
            "use --device all (GPUs, NCCL) or --device cpu (gloo)",
        )
    check_junit_path(junit)
    limit = timeout or 300.0
    target = checked_target(python, timeout=limit)
    interpreter = target.path
    started = time.monotonic()
    run = run_child(
        interpreter, {"device": device, "timeout": max(10.0, limit - 10)}, limit, script=COLLECTIVES
    )
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    if run.fatal:
        if run.fatal.kind in ("torch-missing", "cuda-init-failed"):
            raise MissingRequirement(
                f"rank {rank}: {run.fatal.error}", f"run gpusetup doctor on {platform.node()}"
            )
        raise CommandFailed(
            run.fatal.error, "check that every rank is alive and can reach MASTER_ADDR"
        )
    if run.crash:
        raise CommandFailed(
            f"rank {rank}: {run.crash}", "a peer rank may have died; check every rank's log"
        )
    if rank != 0:
        return
    rows = [row_from_raw(r) for r in run.results]
    rows += [_crash_row(bad.reason, []) for bad in run.bad]
    devices = [
        {
            "gpu": w.rank,
            "name": f"rank {w.rank}: {w.gpu} on {w.host}",
            "torch": w.torch,
            "host": w.host,
        }
        for w in run.ranks
    ]
    result = VerifyResult(
        device=device,
        mode="collectives",
        rows=rows,
        devices=devices,
        seconds=time.monotonic() - started,
        host=platform.node(),
        python={"path": interpreter, "reason": target.reason.value, "why": target.describe()},
    )
    _output(result, json_out, junit)
    raise typer.Exit(int(result.exit_code))


def parse_dtypes(text: Optional[str], mode: str) -> List[str]:
    if text is None:
        return list(DTYPES if mode == "full" else QUICK_DTYPES)
    # dict.fromkeys: a dtype named twice runs once, in the order first given
    chosen = list(dict.fromkeys(d.strip().lower() for d in text.split(",") if d.strip()))
    bad = [d for d in chosen if d not in DTYPES]
    if bad or not chosen:
        raise UsageError(
            f"--dtype {text}: unknown dtype {bad[0] if bad else '(none)'}",
            "choose from " + ",".join(DTYPES),
        )
    return chosen


def parse_fraction(value: Optional[float]) -> Optional[float]:
    if value is not None and not (math.isfinite(value) and 0 < value <= 1.5):
        raise UsageError(f"--min-fraction {value}: must be a fraction of peak, e.g. 0.6")
    return value


def parse_min_tflops(items: List[str]) -> Dict[str, float]:
    floors: Dict[str, float] = {}
    for item in items:
        name, sep, number = item.partition("=")
        if not sep or name.strip().lower() not in (*DTYPES, *FLOOR_WORKLOADS):
            raise UsageError(
                f"--min-tflops {item}: write it as DTYPE=TFLOPS or WORKLOAD=TFLOPS, e.g. bf16=500",
                f"names: {', '.join((*DTYPES, *FLOOR_WORKLOADS))}",
            )
        try:
            floors[name.strip().lower()] = float(number)
        except ValueError:
            raise UsageError(
                f"--min-tflops {item}: {number!r} is not a number", "e.g. bf16=500"
            ) from None
        if not math.isfinite(floors[name.strip().lower()]) or floors[name.strip().lower()] <= 0:
            raise UsageError(
                f"--min-tflops {item}: must be a finite number above 0", "e.g. bf16=500"
            )
    return floors


def check_junit_path(path: Optional[str]) -> None:
    writable_file("--junit", path)


def visible_gpu_count(nvml: str, gpus: List[Any]) -> Optional[int]:
    """How many GPUs CUDA will number (NVML's count through CUDA_VISIBLE_DEVICES); None if unknown."""
    if nvml != "ok":
        return None
    from gpusetup.rules.pytorch import visible_nvml_indices

    return len(
        visible_nvml_indices(os.environ.get("CUDA_VISIBLE_DEVICES"), [g.uuid for g in gpus]).visible
    )


def parse_devices(text: str, count: Optional[int]) -> List[str]:
    raw = text.strip().lower()
    if raw in ("all", "cpu"):
        return [raw]
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or not all(re.fullmatch("[0-9]+", p) for p in parts):  # not isdigit(): '²' is one
        raise UsageError(f"--device {text}: not a device list", "use all, cpu, 0 or 0,2")
    if len(set(parts)) != len(parts):
        raise UsageError(f"--device {text}: a GPU is named twice")
    if count is not None:
        bad = [p for p in parts if int(p) >= count]
        if bad:
            raise UsageError(
                f"--device {text}: GPU {bad[0]} does not exist; this machine has {count}",
                f"use 0 to {count - 1}, or all" if count else "use --device cpu",
            )
    return parts


def expected_results(devices: List[str], dtypes: List[str]) -> int:
    """About how many result lines the child will print, for the progress bar."""
    per_device = len(dtypes) + 2 * len(dtypes) + 1 + (0 if devices == ["cpu"] else 2) + 6
    return per_device * (1 if devices in (["all"], ["cpu"]) else len(devices))


def _fatal(fatal: ChildFatal, python: str, timeout: float) -> None:
    kind, error = fatal.kind, fatal.error
    if kind == "bad-device":
        raise UsageError(f"--device: {error}")
    if kind == "torch-missing":
        raise MissingRequirement(
            f"torch is not installed in {python}: verify needs it",
            "pip install 'gpusetup[verify]', or the right CUDA build: gpusetup install",
        )
    hints = _doctor_findings(python, timeout)
    raise MissingRequirement(
        f"no usable GPU runtime ({kind}): {error}",
        hints or f"run gpusetup doctor --python {python}",
    )


def _doctor_findings(python: str, timeout: float) -> str:
    """The doctor findings (errors) that explain why the runtime is unusable (its probe, a child
    like the others, within --timeout)."""
    from gpusetup.doctor.context import Context
    from gpusetup.doctor.finding import Severity
    from gpusetup.doctor.registry import run_checks
    from gpusetup.facts.collect import collect_facts
    from gpusetup.profiles.load import load_profiles

    facts = collect_facts(python, probe_timeout=timeout)
    findings = run_checks(Context(facts, load_profiles()))
    errors = [f for f in findings if f.severity == Severity.ERROR][:3]
    return "; ".join(f"[{f.id}] {f.title} — fix: {f.fix}" for f in errors)


def _crash_row(message: str, devices: List[ChildDevice]) -> Any:
    from gpusetup.verify.score import Row

    gpu = devices[-1].gpu if devices else 0
    name = devices[-1].name if devices else "unknown"
    return Row(
        gpu=gpu,
        name=name,
        benchmark="run",
        dtype="-",
        value=None,
        unit="",
        fraction_of_peak=None,
        floor=None,
        ok=False,
        reason=message,
    )


def _telemetry_summary(t: Any) -> Dict[str, Any]:
    from gpusetup.facts.model import reason_names

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


def _output(result: Any, json_out: bool, junit: Optional[str]) -> None:
    from gpusetup.render.verify import junit_xml, render_verify

    # The results are shown first: a JUnit file that cannot be written must not lose them.
    if json_out:
        emit_json(result.to_dict())
    else:
        render_verify(result, make_console())
    if junit is not None:
        try:
            Path(junit).write_text(junit_xml(result), encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"--junit {junit}: could not write the JUnit file: {err.strerror or err}",
                "the results above are complete; give a writable file",
            ) from None
