"""gpusetup verify: real matmul, convolution and copy work on each GPU, checked, timed and judged."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import typer

from gpusetup.commands.edge import cli_edge
from gpusetup.errors import CommandFailed, MissingRequirement, UsageError
from gpusetup.facts.probe import target_python
from gpusetup.render.console import make_console, print_line

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
    python: Optional[str] = typer.Option(
        None, "--python", help="Interpreter whose torch runs the benchmarks [default: this one]."
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
    if collectives:
        _collectives(device, python, timeout, json_out, junit)
        return
    from gpusetup.bench.pt2 import explain_compile_failures
    from gpusetup.bench.runner import run_child
    from gpusetup.bench.score import Floors, VerifyResult, score
    from gpusetup.facts.nvml import Sampler, collect_nvml
    from gpusetup.profiles.load import load_profiles

    if quick and full:
        raise UsageError("--quick and --full exclude each other")
    mode = "full" if full else "quick"
    dtypes = parse_dtypes(dtype, mode)
    floors = Floors(
        min_fraction=parse_fraction(min_fraction), min_tflops=parse_min_tflops(min_tflops)
    )
    check_junit_path(junit)
    profiles = load_profiles(profiles_dir)
    interpreter = target_python(python)
    driver, gpus = collect_nvml()
    devices = parse_devices(device, visible_gpu_count(driver.nvml, gpus))
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
        run = run_child(interpreter, config, timeout or (1200.0 if full else 240.0), progress.event)
    if run.fatal:
        _fatal(run.fatal, interpreter)
    pcie, telemetry = _by_device(run.devices, gpus, sampler.telemetry)
    rows = explain_compile_failures(score(run.results, profiles, floors, pcie, telemetry))
    if run.crash:
        rows.append(_crash_row(run.crash, run.devices))
    result = VerifyResult(
        device=device,
        mode=mode,
        rows=rows,
        devices=run.devices,
        telemetry={str(k): _telemetry_summary(v) for k, v in telemetry.items()},
        seconds=time.monotonic() - started,
        host=platform.node(),
    )
    _output(result, json_out, junit)
    raise typer.Exit(int(result.exit_code))


def _by_device(
    devices: List[Dict[str, Any]], gpus: List[Any], sampled: Dict[str, Any]
) -> Tuple[Dict[int, Tuple[int, int]], Dict[int, Any]]:
    """Each measured device's PCIe capability and NVML telemetry, matched by PCI bus id
    (the child numbers devices as CUDA does; NVML numbers them in bus order)."""
    by_bus = {g.pci_bus_id.upper(): g for g in gpus}
    pcie: Dict[int, Tuple[int, int]] = {}
    telemetry: Dict[int, Any] = {}
    for dev in devices:
        gpu = by_bus.get(str(dev.get("pci_bus_id", "")).upper())
        if gpu is None:
            continue
        if gpu.pcie_gen_max and gpu.pcie_width_max:
            pcie[int(dev["gpu"])] = (gpu.pcie_gen_max, gpu.pcie_width_max)
        if gpu.pci_bus_id in sampled:
            telemetry[int(dev["gpu"])] = sampled[gpu.pci_bus_id]
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
    from gpusetup.bench.runner import COLLECTIVES, run_child
    from gpusetup.bench.score import VerifyResult, row_from_raw

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
    interpreter = target_python(python)
    limit = timeout or 300.0
    started = time.monotonic()
    run = run_child(
        interpreter, {"device": device, "timeout": max(10.0, limit - 10)}, limit, script=COLLECTIVES
    )
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    if run.fatal:
        kind = run.fatal.get("kind")
        if kind in ("torch-missing", "cuda-init-failed"):
            raise MissingRequirement(
                f"rank {rank}: {run.fatal.get('error')}",
                f"run gpusetup doctor on {platform.node()}",
            )
        raise CommandFailed(
            str(run.fatal.get("error")), "check that every rank is alive and can reach MASTER_ADDR"
        )
    if run.crash:
        raise CommandFailed(
            f"rank {rank}: {run.crash}", "a peer rank may have died; check every rank's log"
        )
    if rank != 0:
        return
    rows = [row_from_raw(r) for r in run.results]
    devices = [
        {
            "gpu": int(w["rank"]),
            "name": f"rank {w['rank']}: {w['gpu']} on {w['host']}",
            "torch": w.get("torch", "?"),
            "host": w["host"],
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
    )
    _output(result, json_out, junit)
    raise typer.Exit(int(result.exit_code))


def parse_dtypes(text: Optional[str], mode: str) -> List[str]:
    if text is None:
        return list(DTYPES if mode == "full" else QUICK_DTYPES)
    chosen = [d.strip().lower() for d in text.split(",") if d.strip()]
    bad = [d for d in chosen if d not in DTYPES]
    if bad or not chosen:
        raise UsageError(
            f"--dtype {text}: unknown dtype {bad[0] if bad else '(none)'}",
            "choose from " + ",".join(DTYPES),
        )
    return chosen


def parse_fraction(value: Optional[float]) -> Optional[float]:
    if value is not None and not 0 < value <= 1.5:
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
        if floors[name.strip().lower()] <= 0:
            raise UsageError(f"--min-tflops {item}: must be positive")
    return floors


def check_junit_path(path: Optional[str]) -> None:
    if path is None:
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise UsageError(f"--junit {path}: directory {parent} does not exist")
    if Path(path).is_dir():
        raise UsageError(f"--junit {path}: is a directory", "give a file name, e.g. verify.xml")


def visible_gpu_count(nvml: str, gpus: List[Any]) -> Optional[int]:
    """How many GPUs CUDA will number (NVML's count through CUDA_VISIBLE_DEVICES); None if unknown."""
    if nvml != "ok":
        return None
    from gpusetup.torch_rules import visible_nvml_indices

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


def _fatal(fatal: Dict[str, Any], python: str) -> None:
    kind, error = fatal.get("kind", ""), fatal.get("error", "")
    if kind == "bad-device":
        raise UsageError(f"--device: {error}")
    if kind == "torch-missing":
        raise MissingRequirement(
            f"torch is not installed in {python}: verify needs it",
            "pip install 'gpusetup[verify]', or the right CUDA build: gpusetup install",
        )
    hints = _doctor_findings(python)
    raise MissingRequirement(
        f"no usable GPU runtime ({kind}): {error}",
        hints or f"run gpusetup doctor --python {python}",
    )


def _doctor_findings(python: str) -> str:
    """The doctor findings (errors) that explain why the runtime is unusable."""
    from gpusetup.checks.context import Context
    from gpusetup.checks.finding import Severity
    from gpusetup.checks.registry import run_checks
    from gpusetup.facts.collect import collect_facts
    from gpusetup.profiles.load import load_profiles

    findings = run_checks(Context(collect_facts(python), load_profiles()))
    errors = [f for f in findings if f.severity == Severity.ERROR][:3]
    return "; ".join(f"[{f.id}] {f.title} — fix: {f.fix}" for f in errors)


def _crash_row(message: str, devices: List[Dict[str, Any]]) -> Any:
    from gpusetup.bench.score import Row

    gpu = int(devices[-1]["gpu"]) if devices else 0
    name = str(devices[-1]["name"]) if devices else "unknown"
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
    from gpusetup.checks.health import reason_names

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

    if junit is not None:
        Path(junit).write_text(junit_xml(result), encoding="utf-8")
    if json_out:
        print_line(json.dumps(result.to_dict(), indent=2))
    else:
        render_verify(result, make_console())
