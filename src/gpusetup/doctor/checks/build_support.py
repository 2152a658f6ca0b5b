"""Whether the torch build can run here: a CUDA build, for a CUDA the driver runs, with kernels for each GPU."""

from __future__ import annotations

from typing import Iterator

from gpusetup.doctor.checks.fix_commands import REINSTALL, quoted_python
from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.profiles.model import CudaToolkit
from gpusetup.rules.pytorch import build_supports_device, rules_for
from gpusetup.versions import DriverVersion

ERROR, WARNING = Severity.ERROR, Severity.WARNING


@check(torch_cpu_build="a CPU-only torch on a machine with an NVIDIA GPU")
def cpu_build(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if ctx.cuda_build_absent() and ctx.has_nvidia_gpu:
        yield Finding(
            "torch-cpu-build",
            ERROR,
            f"torch {torch.version} is a CPU-only build, but this machine has an NVIDIA GPU",
            f"Replace it with a CUDA build: {REINSTALL} --python {quoted_python(ctx)}",
            {"torch": torch.version, "torch.version.cuda": None},
        )


@check(
    driver_too_old_for_torch="the torch build's CUDA needs a newer driver than the one installed"
)
def driver_vs_build(ctx: Context) -> Iterator[Finding]:
    build, driver, driver_cuda = ctx.torch_cuda, ctx.driver_version, ctx.driver_cuda
    if build is None and ctx.facts.torch.driver_api_version:
        yield _torch_says_too_old(ctx)  # torch's own warning, where the paste cut its build
        return
    if build is None or (driver is None and driver_cuda is None):
        return
    toolkit = ctx.profiles.toolkit(build)
    floor = _driver_floor(toolkit, ctx.os_name) if toolkit else None
    evidence = {
        "torch": ctx.facts.torch.version,
        "torch.version.cuda": str(build),
        "driver": str(driver) if driver else None,
        "driver_cuda": str(driver_cuda) if driver_cuda else None,
    }
    hard = (driver is not None and floor is not None and driver < floor) or (
        driver_cuda is not None
        and (driver_cuda.major < build.major or (build.major < 11 and driver_cuda < build))
    )  # minor-version compatibility starts with CUDA 11: a 10.x build needs its own driver
    if hard:
        yield Finding(
            "driver-too-old-for-torch",
            ERROR,
            f"torch built for CUDA {build} needs driver >= {floor or 'newer'}; this one is {driver or '?'}"
            f" (CUDA {driver_cuda or '?'})",
            f"Upgrade the NVIDIA driver, or install a torch build for the CUDA this driver supports: "
            f"gpusetup install --cuda auto --python {quoted_python(ctx)}",
            {
                **evidence,
                "minimum_driver": str(floor) if floor else None,
                "source": toolkit.source if toolkit else None,
            },
        )
    elif driver_cuda is not None and driver_cuda < build:
        full = toolkit.driver.for_os(ctx.os_name) if toolkit and toolkit.version == build else None
        yield Finding(
            "driver-too-old-for-torch",
            WARNING,
            f"The driver supports CUDA {driver_cuda}, older than torch's CUDA {build}: it runs under "
            "minor-version compatibility (PTX JIT and torch.compile/Triton kernels may fail)",
            f"Upgrade the driver to >= {full or 'the CUDA ' + str(build) + ' driver'}, or use a build "
            f"for CUDA <= {driver_cuda}: gpusetup install --cuda auto --python {quoted_python(ctx)}",
            evidence,
        )


def _torch_says_too_old(ctx: Context) -> Finding:
    """torch printed "driver on your system is too old (found version 10010)": only a CUDA build
    says that, so the finding stands on torch's word even where the report does not state the build."""
    api = ctx.facts.torch.driver_api_version or 0
    found = f"{api // 1000}.{(api % 1000) // 10}"
    driver, driver_cuda = ctx.driver_version, ctx.driver_cuda
    return Finding(
        "driver-too-old-for-torch",
        ERROR,
        f"torch {ctx.facts.torch.version or ''} says the driver is too old: it found CUDA {found}"
        + (f" (driver {driver})" if driver else "")
        + ", older than the CUDA its build needs",
        f"Upgrade the NVIDIA driver, or install a torch build for CUDA <= {driver_cuda or found}: "
        f"gpusetup install --cuda auto --python {quoted_python(ctx)}",
        {
            "torch": ctx.facts.torch.version,
            "torch.version.cuda": None,
            "driver": str(driver) if driver else None,
            "driver_cuda": str(driver_cuda) if driver_cuda else found,
            "driver_api_version": api,
        },
    )


def _driver_floor(toolkit: CudaToolkit, os_name: str) -> DriverVersion:
    """The oldest driver that runs the build: its own minimum when that is older than the
    minor-version-compatibility floor (CUDA 11.0 runs natively on 450.51.05, below 11.x's 450.80.02)."""
    return min(toolkit.minor_compat.for_os(os_name), toolkit.driver.for_os(os_name))


@check(
    arch_not_in_build="a GPU's compute capability has no kernels (and no PTX) in the torch build"
)
def arch(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.cuda_build or not torch.arch_list:
        return
    rules = rules_for(torch.version, ctx.torch_cuda)
    for gpu, cap in ctx.capabilities():
        if not build_supports_device(torch.arch_list, cap, rules):
            yield Finding(
                "arch-not-in-build",
                ERROR,
                f"GPU {gpu.index} {gpu.name} (sm_{cap.code}) is not supported by torch {torch.version}: "
                "'no kernel image is available for execution on the device'",
                f"Install a build that carries sm_{cap.code}: {REINSTALL} --python {quoted_python(ctx)}   "
                "(Blackwell needs cu128+; Maxwell/Pascal need cu126 or older)",
                {"gpu": gpu.index, "capability": str(cap), "arch_list": torch.arch_list},
            )
