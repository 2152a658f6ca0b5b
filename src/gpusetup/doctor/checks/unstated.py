"""What a pasted report leaves unknown: the checks that could not run, and what to collect for them."""

from __future__ import annotations

from typing import AbstractSet, Dict, Iterator, Tuple

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check_last
from gpusetup.facts.model import Unstated

# area -> (what it is, the checks that need it, the command that collects it)
NEEDS: Dict[Unstated, Tuple[str, Tuple[str, ...], str]] = {
    Unstated.TORCH: (
        "the torch stack",
        ("torch-cpu-build", "driver-too-old-for-torch", "arch-not-in-build", "cuda-init-failed",
         "known-broken-build", "nvidia-wheels-missing"),
        "python -m torch.utils.collect_env",
    ),
    Unstated.DRIVER: (
        "the driver and the CUDA it supports",
        ("driver-too-old-for-torch", "cuda-compat-libs", "nvml-version-mismatch", "torch-cpu-build"),
        "nvidia-smi",
    ),
    Unstated.GPU_ARCH: (
        "each GPU's compute capability",
        ("arch-not-in-build",),
        "nvidia-smi --query-gpu=index,name,compute_cap --format=csv",
    ),
    Unstated.GPU_HEALTH: (
        "GPU health (ECC, remapped rows, clocks, PCIe, fabric)",
        ("ecc-errors", "row-remap-pending", "gpu-throttled", "pcie-link-degraded", "fabric-manager-inactive"),
        "nvidia-smi -q",
    ),
    Unstated.HOST: (
        "the host (container, WSL, kernel modules, environment variables)",
        ("container-no-gpu-runtime", "driver-capabilities-no-compute", "cuda-visible-devices",
         "nouveau-loaded", "wsl-driver-inside"),
        "gpusetup doctor --json",
    ),
    Unstated.LIBRARIES: (
        "LD_LIBRARY_PATH and the CUDA libraries torch loaded",
        ("ld-library-path-shadowing", "cuda-compat-libs", "cudnn-version-mix", "cudnn-load-failed"),
        "gpusetup doctor --json",
    ),
    Unstated.TOOLKIT: (
        "the CUDA toolkit on disk",
        ("toolkit-torch-mismatch", "toolkit-newer-than-driver", "cuda-home-missing"),
        "nvcc --version; echo $CUDA_HOME",
    ),
    Unstated.PACKAGES: (
        "the installed packages",
        ("torchvision-mismatch", "multiple-torch-installs", "nvidia-wheels-missing"),
        "python -m pip list",
    ),
}  # fmt: skip


@check_last(not_in_report="a pasted report does not state facts some checks need")
def unstated(ctx: Context, fired: AbstractSet[str]) -> Iterator[Finding]:
    """Runs after every other check: a check that fired anyway was not left unchecked."""
    facts = ctx.facts
    if not facts.input.pasted:
        return
    for value in facts.input.unstated:
        what, needed_by, command = NEEDS[Unstated(value)]
        unchecked = [fid for fid in needed_by if fid not in fired and _may_fire(ctx, value, fid)]
        yield Finding(
            "not-in-report",
            Severity.INFO,
            f"Not in this report: {what}"
            + (f"; unchecked: {', '.join(unchecked)}" if unchecked else ""),
            f"Collect it: {_command(ctx, Unstated(value), command, fired)}",
            {"area": value, "checks": unchecked, "input": facts.input.kinds},
        )


def _command(ctx: Context, area: Unstated, command: str, fired: AbstractSet[str]) -> str:
    """torch shown without CUDA, and nothing found that explains it: in a container, the runtime's
    variables decide whether libcuda is mounted, and a reporter without gpusetup can print them."""
    no_cuda = ctx.facts.torch.cuda_available is False and not ctx.cuda_build_absent()
    if area == Unstated.HOST and no_cuda and not fired:
        return (
            f"{command}; env | grep -E "
            "'^(NVIDIA_DRIVER_CAPABILITIES|NVIDIA_VISIBLE_DEVICES|CUDA_VISIBLE_DEVICES)='"
        )
    return command


def _may_fire(ctx: Context, area: str, fid: str) -> bool:
    """torch-cpu-build waits on the driver area only for a build known to be CPU-only."""
    return (
        not (area == Unstated.DRIVER.value and fid == "torch-cpu-build") or ctx.cuda_build_absent()
    )
