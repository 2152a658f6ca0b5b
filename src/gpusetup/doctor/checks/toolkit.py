"""Checks of the system CUDA toolkit against torch and the driver (what extension builds use)."""

from __future__ import annotations

import os
import shlex
from typing import Iterator, Optional

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import NvccFacts
from gpusetup.rules.pytorch import toolkit_mismatch
from gpusetup.versions import optional_cuda


def _nvcc_for_cuda_home(ctx: Context) -> Optional[NvccFacts]:
    """The nvcc torch's extension builder would run: CUDA_HOME/bin/nvcc."""
    home = ctx.facts.toolkit.cuda_home
    if not home:
        return None
    wanted = os.path.normpath(os.path.join(home, "bin", "nvcc"))
    for nvcc in ctx.facts.toolkit.nvcc:
        if os.path.normpath(nvcc.path) == wanted or os.path.realpath(nvcc.path) == os.path.realpath(
            wanted
        ):
            return nvcc
    return None


@check(
    toolkit_torch_mismatch="the toolkit's CUDA differs from torch's: C++/CUDA extension builds fail"
)
def toolkit_vs_torch(ctx: Context) -> Iterator[Finding]:
    nvcc = _nvcc_for_cuda_home(ctx)
    build = ctx.torch_cuda
    toolkit = optional_cuda(nvcc.version) if nvcc else None
    if nvcc is None or toolkit is None or build is None:
        return
    level = toolkit_mismatch(toolkit, build)
    if not level:
        return
    yield Finding(
        "toolkit-torch-mismatch",
        Severity.WARNING if level == "major" else Severity.INFO,
        f"nvcc {toolkit} (CUDA_HOME={ctx.facts.toolkit.cuda_home}) vs torch built with CUDA {build}"
        + (": extension builds will fail" if level == "major" else ": torch only warns"),
        f"Install toolkit {build} and point CUDA_HOME at it (conda install -c nvidia cuda-nvcc={build}, or "
        f"apt install cuda-toolkit-{build.major}-{build.minor}; export CUDA_HOME=/usr/local/cuda-{build}), "
        f"or install the torch build for CUDA {toolkit.major}.x",
        {"nvcc": nvcc.path, "nvcc_version": str(toolkit), "torch.version.cuda": str(build)},
    )


@check(cuda_home_missing="nvcc exists but CUDA_HOME is unset, or CUDA_HOME points nowhere")
def cuda_home(ctx: Context) -> Iterator[Finding]:
    toolkit = ctx.facts.toolkit
    if toolkit.cuda_home and toolkit.cuda_home_exists is False:
        yield Finding(
            "cuda-home-missing",
            Severity.WARNING,
            f"{toolkit.cuda_home_via}={toolkit.cuda_home} does not exist",
            "Point it at an installed toolkit, e.g. export CUDA_HOME="
            + shlex.quote(
                os.path.dirname(os.path.dirname(toolkit.nvcc[0].path))
                if toolkit.nvcc
                else "/usr/local/cuda"
            ),
            {"cuda_home": toolkit.cuda_home, "via": toolkit.cuda_home_via},
        )
    elif toolkit.cuda_home is None and toolkit.nvcc:
        home = os.path.dirname(os.path.dirname(toolkit.nvcc[0].path))
        yield Finding(
            "cuda-home-missing",
            Severity.WARNING,
            "A CUDA toolkit is installed but torch cannot find it (no CUDA_HOME, no nvcc on PATH)",
            f"export CUDA_HOME={shlex.quote(home)}   (and add $CUDA_HOME/bin to PATH)",
            {"nvcc": [n.path for n in toolkit.nvcc]},
        )


@check(
    toolkit_newer_than_driver="nvcc is newer than the driver's CUDA: its PTX will not load (error 222)"
)
def toolkit_vs_driver(ctx: Context) -> Iterator[Finding]:
    nvcc = _nvcc_for_cuda_home(ctx) or (
        ctx.facts.toolkit.nvcc[0] if ctx.facts.toolkit.nvcc else None
    )
    toolkit = optional_cuda(nvcc.version) if nvcc else None
    driver_cuda = ctx.driver_cuda
    if toolkit is None or driver_cuda is None or nvcc is None or not toolkit > driver_cuda:
        return
    yield Finding(
        "toolkit-newer-than-driver",
        Severity.WARNING,
        f"nvcc {toolkit} is newer than the driver's CUDA {driver_cuda}: kernels it compiles to PTX fail "
        "with 'the provided PTX was compiled with an unsupported toolchain'",
        f"Upgrade the driver, or build with a toolkit <= {driver_cuda}",
        {"nvcc": nvcc.path, "nvcc_version": str(toolkit), "driver_cuda": str(driver_cuda)},
    )
