"""verify's options as values: dtypes, devices, floors, and how many results a run will print."""

from __future__ import annotations

import math
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Union

from gpusetup.errors import UsageError
from gpusetup.facts.status import NvmlStatus
from gpusetup.verify.vocab import Benchmark, Dtype

DTYPES = tuple(Dtype)
QUICK_DTYPES = (Dtype.FP32, Dtype.TF32, Dtype.BF16, Dtype.FP8)
# the workloads whose rows are in TFLOP/s, so that --min-tflops NAME=... may floor them
FLOOR_WORKLOADS = (Benchmark.ATTENTION, Benchmark.TRAIN_STEP)
_FLOORED: Dict[str, Union[Dtype, Benchmark]] = {
    **{d.value: d for d in DTYPES},
    **{w.value: w for w in FLOOR_WORKLOADS},
}


def parse_dtypes(text: Optional[str], mode: str) -> List[Dtype]:
    if text is None:
        return list(DTYPES if mode == "full" else QUICK_DTYPES)
    # dict.fromkeys: a dtype named twice runs once, in the order first given
    chosen = list(dict.fromkeys(d.strip().lower() for d in text.split(",") if d.strip()))
    bad = [d for d in chosen if d not in DTYPES]
    if bad or not chosen:
        raise UsageError(
            f"--dtype {text}: unknown dtype {bad[0] if bad else '(none)'}",
            "choose from " + ",".join(d.value for d in DTYPES),
        )
    return [Dtype(d) for d in chosen]


def parse_fraction(value: Optional[float]) -> Optional[float]:
    if value is not None and not (math.isfinite(value) and 0 < value <= 1.5):
        raise UsageError(f"--min-fraction {value}: must be a fraction of peak, e.g. 0.6")
    return value


def parse_min_tflops(items: List[str]) -> Dict[str, float]:
    """Each floor keyed by what it floors: a Dtype's rows, or a workload's (a Benchmark)."""
    floors: Dict[str, float] = {}
    for item in items:
        text, sep, number = item.partition("=")
        name = _FLOORED.get(text.strip().lower())
        if not sep or name is None:
            raise UsageError(
                f"--min-tflops {item}: write it as DTYPE=TFLOPS or WORKLOAD=TFLOPS, e.g. bf16=500",
                f"names: {', '.join(_FLOORED)}",
            )
        try:
            floors[name] = float(number)
        except ValueError:
            raise UsageError(
                f"--min-tflops {item}: {number!r} is not a number", "e.g. bf16=500"
            ) from None
        if not math.isfinite(floors[name]) or floors[name] <= 0:
            raise UsageError(
                f"--min-tflops {item}: must be a finite number above 0", "e.g. bf16=500"
            )
    return floors


def visible_gpu_count(nvml: NvmlStatus, gpus: List[Any]) -> Optional[int]:
    """How many GPUs CUDA will number (NVML's count through CUDA_VISIBLE_DEVICES); None if unknown."""
    if nvml != NvmlStatus.OK:
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


def expected_results(devices: List[str], dtypes: Sequence[str]) -> int:
    """About how many result lines the child will print, for the progress bar."""
    per_device = len(dtypes) + 2 * len(dtypes) + 1 + (0 if devices == ["cpu"] else 2) + 6
    return per_device * (1 if devices in (["all"], ["cpu"]) else len(devices))
