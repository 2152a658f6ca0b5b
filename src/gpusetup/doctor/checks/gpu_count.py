"""--expect-gpus: the CI check that catches a GPU fallen off the bus (doctor and verify share it)."""

from __future__ import annotations

from typing import Iterator, Optional

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.errors import CommandFailed, UsageError


def parse_expect_gpus(text: Optional[str]) -> Optional[int]:
    """A whole number >= 0, else one line and exit 2."""
    if text is None:
        return None
    raw = text.strip()
    if not raw.isdigit():
        raise UsageError(
            f"--expect-gpus {text}: not a GPU count",
            "give a whole number >= 0, e.g. --expect-gpus 8",
        )
    return int(raw)


def visible_gpus(ctx: Context) -> int:
    """GPUs NVML reads without error; fewer if the probed CUDA torch numbers fewer."""
    torch = ctx.facts.torch
    by_torch = torch.device_count if ctx.torch_ok and torch.cuda_build else None
    if not ctx.nvml_ok:
        return by_torch or 0
    count = sum(1 for g in ctx.gpus if not g.error)
    return count if by_torch is None else min(count, by_torch)


def require_gpus(expected: Optional[int], visible: int) -> None:
    """verify's form: fail before any benchmark runs."""
    if expected is not None and visible < expected:
        raise CommandFailed(
            f"--expect-gpus {expected}: {visible} GPU(s) visible",
            "gpusetup doctor names the missing one (a GPU fallen off the bus, a container or "
            "CUDA_VISIBLE_DEVICES hiding it)",
        )


@check(fewer_gpus_than_expected="fewer GPUs are visible than --expect-gpus asks for")
def expected_count(ctx: Context) -> Iterator[Finding]:
    if ctx.expect_gpus is None:
        return
    visible = visible_gpus(ctx)
    if visible < ctx.expect_gpus:
        yield Finding(
            "fewer-gpus-than-expected",
            Severity.ERROR,
            f"{visible} GPU(s) visible, {ctx.expect_gpus} expected (--expect-gpus)",
            "Find the missing GPU: sudo dmesg | grep -iE 'NVRM|Xid'; lspci -d 10de: ; nvidia-smi -L   "
            "(in a container: docker run --gpus all; check CUDA_VISIBLE_DEVICES)",
            {"visible": visible, "expected": ctx.expect_gpus, "nvml": ctx.facts.driver.nvml},
        )
