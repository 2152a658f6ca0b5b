"""Containers that cannot reach CUDA: capabilities without compute, a forward-compat libcuda on GeForce."""

from __future__ import annotations

import re
from typing import Iterator, List, NamedTuple, Optional

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import GpuFacts
from gpusetup.versions import CudaVersion, optional_cuda, optional_driver

# Forward compatibility (cuda-compat) runs only on datacenter GPUs; NVIDIA's CUDA compatibility guide.
_UNSUPPORTED_BRANDS = ("geforce", "titan", "quadro", "nvidia rtx", "rtx", "nvs")
_DATACENTER_NAMES = ("tesla", "a100", "a30", "a10", "a16", "a2 ", "a40", "h100", "h200", "h800",
                     "b200", "b300", "gb200", "gh200", "l4", "l40", "v100", "t4", "p100", "k80")  # fmt: skip


def _no_forward_compat(gpu: GpuFacts) -> bool:
    """A GeForce or workstation card (by NVML's brand, else by its name)."""
    brand = (gpu.brand or "").lower()
    if brand:
        return brand.startswith(_UNSUPPORTED_BRANDS)
    name = gpu.name.lower().replace("nvidia ", "")
    if any(name.startswith(dc) or f" {dc}" in f" {name}" for dc in _DATACENTER_NAMES):
        return False
    return name.startswith(("geforce", "titan", "quadro", "rtx"))


def _capabilities(ctx: Context) -> Optional[List[str]]:
    value = ctx.facts.host.env.get("NVIDIA_DRIVER_CAPABILITIES")
    return None if value is None else [c.strip().lower() for c in value.split(",") if c.strip()]


def _no_driver_error(ctx: Context) -> bool:
    torch = ctx.facts.torch
    return "found no nvidia driver" in (torch.init_error + " ".join(torch.init_warnings)).lower()


def capabilities_lack_compute(ctx: Context) -> bool:
    """NVIDIA_DRIVER_CAPABILITIES leaves out compute (or, unset, the runtime's default 'utility' does,
    where a container's torch finds no driver), and CUDA is not shown working."""
    host = ctx.facts.host
    caps = _capabilities(ctx)
    if ctx.facts.torch.cuda_available is True:
        return False  # CUDA works: libcuda got in (whatever the variable says)
    if caps is not None:
        return "compute" not in caps and "all" not in caps
    return bool(host.container and host.nvidia_visible_devices and _no_driver_error(ctx))


@check(
    driver_capabilities_no_compute="a container whose NVIDIA_DRIVER_CAPABILITIES leaves out compute (no libcuda)"
)
def driver_capabilities(ctx: Context) -> Iterator[Finding]:
    host, torch = ctx.facts.host, ctx.facts.torch
    if not capabilities_lack_compute(ctx):
        if _command_leaves_capabilities_out(ctx):
            yield _capabilities_left_to_the_image(ctx)
        return
    caps = _capabilities(ctx)
    fix = (
        "Start the container with compute: docker run --gpus all -e "
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility ...   (compose: environment: "
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility; or ENV in the image's Dockerfile)"
    )
    if "NVIDIA_DRIVER_CAPABILITIES" in host.env_set_by_script:
        fix = (
            "Your command or compose file sets NVIDIA_DRIVER_CAPABILITIES itself: change that "
            "assignment to compute,utility (or all), e.g. -e NVIDIA_DRIVER_CAPABILITIES=compute,utility"
        )
    yield Finding(
        "driver-capabilities-no-compute",
        Severity.ERROR,
        f"NVIDIA_DRIVER_CAPABILITIES={','.join(caps) if caps is not None else '(unset: utility)'} leaves "
        "out compute: nvidia-smi works but libcuda is not mounted, so torch says 'Found no NVIDIA driver'",
        fix,
        {
            "NVIDIA_DRIVER_CAPABILITIES": host.env.get("NVIDIA_DRIVER_CAPABILITIES"),
            "NVIDIA_VISIBLE_DEVICES": host.nvidia_visible_devices,
            "container": host.container or None,
            "torch_error": torch.init_error
            or next((w for w in torch.init_warnings if "NVIDIA driver" in w), None),
        },
    )


def _command_leaves_capabilities_out(ctx: Context) -> bool:
    """The pasted command picks GPUs (-e NVIDIA_VISIBLE_DEVICES) but not capabilities, and CUDA is
    not shown working: whether libcuda is mounted then rests on the image's own setting."""
    host = ctx.facts.host
    return (
        bool(host.container)
        and "NVIDIA_VISIBLE_DEVICES" in host.env_set_by_script
        and "NVIDIA_DRIVER_CAPABILITIES" not in host.env
        and ctx.facts.torch.cuda_available is not True
    )


def _capabilities_left_to_the_image(ctx: Context) -> Finding:
    """A warning, not an error: nvidia/cuda images set compute,utility themselves; others do not."""
    host = ctx.facts.host
    return Finding(
        "driver-capabilities-no-compute",
        Severity.WARNING,
        "The command sets NVIDIA_VISIBLE_DEVICES but not NVIDIA_DRIVER_CAPABILITIES: unless the image "
        "sets it, the runtime mounts only 'utility' (nvidia-smi works, no libcuda), and torch finds no "
        "driver",
        "Give the capabilities with the GPUs: docker run ... -e NVIDIA_VISIBLE_DEVICES=all -e "
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility ...   (check the image's: docker inspect -f "
        "'{{.Config.Env}}' IMAGE)",
        {
            "NVIDIA_DRIVER_CAPABILITIES": None,
            "NVIDIA_VISIBLE_DEVICES": host.env.get("NVIDIA_VISIBLE_DEVICES"),
            "set_by_command": sorted(host.env_set_by_script),
            "container": host.container or None,
        },
    )


def _compat_paths(ctx: Context) -> List[str]:
    """Where the facts show the compat libcuda: the library torch loaded, or LD_LIBRARY_PATH dirs."""
    paths = [
        lib.path
        for lib in ctx.facts.torch.loaded_libraries
        if lib.name == "libcuda" and "compat" in lib.path
    ]
    paths += [
        d.path
        for d in ctx.facts.toolkit.ld_library_path
        if "compat" in d.path and any(n.startswith("libcuda.") for n in d.libraries)
    ]
    return sorted(set(paths))


_LIBCUDA_VERSION = re.compile(r"libcuda\.so\.(\d{3}\.\d+(?:\.\d+)?)$")


def _foreign_libcuda(ctx: Context) -> Optional[str]:
    """A loaded libcuda whose version is not the kernel module's: a compat (forward) libcuda."""
    host = ctx.facts.host
    module = optional_driver(host.proc_driver_version or host.nvidia_module_version)
    for lib in ctx.facts.torch.loaded_libraries:
        found = _LIBCUDA_VERSION.search(lib.path) if lib.name == "libcuda" else None
        if found and module is not None and optional_driver(found.group(1)) != module:
            return lib.path
    return None


class _Evidence(NamedTuple):
    """What shows a forward-compat libcuda: error 804, a libcuda of another version than the module,
    or (in a container only: the image's compat libcuda sets it) NVML's CUDA above native."""

    error_804: bool
    foreign: Optional[str]  # the loaded libcuda's path when its version is not the module's
    above: bool

    def any(self) -> bool:
        return self.error_804 or self.foreign is not None or self.above


def _forward_compat_evidence(
    ctx: Context, native: Optional[CudaVersion], nvml_cuda: Optional[CudaVersion]
) -> _Evidence:
    torch = ctx.facts.torch
    error_804 = any(
        "804" in m or "forward compatibility" in m for m in [torch.init_error, *torch.init_warnings]
    )
    above = bool(ctx.facts.host.container) and (
        nvml_cuda is not None and native is not None and nvml_cuda > native
    )
    return _Evidence(error_804, _foreign_libcuda(ctx), above)


@check()
def forward_compat_unsupported(ctx: Context) -> Iterator[Finding]:
    """cuda-compat-libs where no compat directory is on the library path but its effect shows."""
    driver = ctx.driver_version
    nvml_cuda = optional_cuda(ctx.facts.driver.cuda_version)
    native: Optional[CudaVersion] = (
        ctx.profiles.max_cuda_for_driver(driver, ctx.os_name) if driver is not None else None
    )
    seen = _forward_compat_evidence(ctx, native, nvml_cuda)
    consumer = [g for g in ctx.gpus if _no_forward_compat(g)]
    if (
        ctx.facts.torch.cuda_available is True  # CUDA works: whatever libcuda this is, it runs
        or not consumer
        or not seen.any()
        or _listed_by_library_check(ctx)
    ):
        return
    paths = sorted({*_compat_paths(ctx), *([seen.foreign] if seen.foreign else [])})
    where = (
        f"drop {':'.join(paths)} from the library path"
        if paths
        else "in the container, find it with: ldconfig -p | grep libcuda.so   (an image's "
        "/usr/local/cuda/compat; the NVIDIA container toolkit mounts it over the host's libcuda)"
    )
    upgrade = (
        "On the host: upgrade the driver" if ctx.facts.host.container else "Upgrade the driver"
    )
    yield Finding(
        "cuda-compat-libs",
        Severity.ERROR,
        f"A forward-compatibility libcuda is in use on {consumer[0].name or 'a GeForce/workstation GPU'}, "
        "which does not support it: CUDA error 804 'forward compatibility was attempted on non supported HW'",
        f"{upgrade} to one that supports CUDA {nvml_cuda or 'the image CUDA'} natively, or "
        f"use an image built for CUDA <= {native or 'the driver CUDA'}; or {where}",
        {
            "driver": str(driver) if driver else None,
            "driver_native_cuda": str(native) if native else None,
            "nvml_cuda": str(nvml_cuda) if nvml_cuda else None,
            "gpu": consumer[0].name,
            "compat_paths": paths,
            "error_804": seen.error_804,
            "libcuda_not_the_module": seen.foreign,
        },
    )


def _listed_by_library_check(ctx: Context) -> bool:
    """libraries.py's cuda-compat-libs already fires when a compat dir is on LD_LIBRARY_PATH."""
    dirs = ctx.facts.toolkit.ld_library_path
    loaded = ctx.facts.torch.loaded_libraries
    return any(
        "compat" in d.path and any(n.startswith("libcuda.") for n in d.libraries) for d in dirs
    ) or any(lib.name == "libcuda" and "/compat/" in lib.path for lib in loaded)
