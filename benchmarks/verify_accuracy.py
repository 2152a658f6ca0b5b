"""How close verify's timings are to independent references, measured in the same run.

verify's own child (the code `gpusetup verify` runs) measures each operation; then this script
times the same operations at the same sizes with torch.utils.benchmark.Timer and, where triton is
installed, triton.testing.do_bench. It prints verify/reference ratios; the goal is within 3 %.
Run: PYTHONPATH=src python3 benchmarks/verify_accuracy.py [--device 0|cpu] [--dtype bf16,fp32]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.utils.benchmark as tbench

from gpusetup.verify._bench_harness import set_tf32
from gpusetup.verify.child import run_child

GOAL = 0.03


def operation(result: Dict[str, Any], device: str) -> Optional[Tuple[Callable[[], Any], float]]:
    """The operation verify timed, rebuilt at the same size, and its work (FLOPs or bytes)."""
    kind = {
        "fp32": torch.float32,
        "tf32": torch.float32,
        "fp16": torch.float16,
        "bf16": torch.bfloat16,
    }
    size, dtype = result["size"], result["dtype"]
    if device != "cpu":
        set_tf32(torch, dtype == "tf32")  # the same precision flags as verify's child sets
        torch.backends.cudnn.benchmark = True
    if result["benchmark"] == "matmul" and dtype in kind:
        n = size["n"]
        a, b = (torch.randn(n, n, device=device, dtype=kind[dtype]) for _ in range(2))
        out = torch.empty(n, n, device=device, dtype=kind[dtype])
        return (lambda: torch.matmul(a, b, out=out)), 2.0 * n**3
    if result["benchmark"] == "conv-fwd" and dtype in kind:
        n, c, s = size["batch"], size["channels"], size["height"]
        x = torch.randn(n, c, s, s, device=device, dtype=kind[dtype]).to(
            memory_format=torch.channels_last
        )
        w = torch.randn(c, c, 3, 3, device=device, dtype=kind[dtype]).to(
            memory_format=torch.channels_last
        )
        return (lambda: torch.nn.functional.conv2d(x, w, padding=1)), 2.0 * n * c * c * 9 * s * s
    if result["benchmark"] == "memory":
        src = torch.randn(size["bytes"] // 4, device=device)
        dst = torch.empty_like(src)
        return (lambda: dst.copy_(src)), 2.0 * size["bytes"]
    return None


def reference_seconds(fn: Callable[[], Any], device: str) -> Dict[str, float]:
    with torch.no_grad():
        timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
        found = {"torch.utils.benchmark": timer.blocked_autorange(min_run_time=1.0).median}
        if device != "cpu":
            try:
                import triton.testing
            except ImportError:
                return found
            try:
                ms = triton.testing.do_bench(fn, warmup=100, rep=500, return_mode="median")
            except TypeError:  # older triton: no return_mode (returns the mean)
                ms = triton.testing.do_bench(fn, warmup=100, rep=500)
            found["triton do_bench"] = float(ms) / 1000.0
    return found


def one_round(
    args: argparse.Namespace, dtypes: List[str], device: str
) -> Dict[Tuple[str, str, str], float]:
    """verify's child, then the references at the same sizes: ratio per (benchmark, dtype, tool)."""
    devices = ["cpu"] if args.device == "cpu" else [args.device]
    config = {
        "devices": devices,
        "dtypes": dtypes,
        "mode": args.mode,
        "benchmarks": ["matmul", "conv", "memory"],
    }
    run = run_child(sys.executable, config, timeout=1200)
    if run.fatal or not run.results:
        raise SystemExit(f"verify could not run: {run.fatal or run.crash}")
    ratios: Dict[Tuple[str, str, str], float] = {}
    for result in run.results:
        built = operation(result, device) if result.get("value") else None
        if built is None:
            continue
        fn, work = built
        scale = 1e12 if result["unit"] == "TFLOP/s" else 1e9
        for tool, seconds in reference_seconds(fn, device).items():
            ratios[(result["benchmark"], result["dtype"], tool)] = result["value"] / (
                work / seconds / scale
            )
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="fp32,bf16")
    parser.add_argument("--mode", default="quick", choices=["quick", "full"])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved verify/reference rounds")
    args = parser.parse_args()
    device = "cpu" if args.device == "cpu" else f"cuda:{args.device}"
    rounds = [one_round(args, args.dtype.split(","), device) for _ in range(args.rounds)]
    print(f"device {device} · torch {torch.__version__} · mode {args.mode} · {args.rounds} rounds")
    print(f"{'benchmark':<10} {'dtype':<6} {'median ratio':>12}  {'spread':>13}  reference tool")
    medians: List[float] = []
    for key in rounds[0]:
        values = [r[key] for r in rounds if key in r]
        middle = statistics.median(values)
        medians.append(middle)
        print(
            f"{key[0]:<10} {key[1]:<6} {middle:>12.3f}  {min(values):>6.3f}-{max(values):<6.3f}  {key[2]}"
        )
    worst = max(abs(1 - m) for m in medians)
    print(
        f"worst median ratio {worst:.1%} off; goal within {GOAL:.0%}: "
        + ("met" if worst <= GOAL else "MISSED")
    )
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
