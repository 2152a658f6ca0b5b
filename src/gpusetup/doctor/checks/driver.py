"""Checks of the driver, NVML and the host around them (containers, WSL, modules)."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Any, Callable, Dict, Iterator, Optional

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import DriverFacts, HostFacts, Unstated
from gpusetup.facts.status import NvmlStatus

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

_RELOAD_MODULES = (
    "sudo reboot   (or, with no process using the GPU: "
    "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia)"
)


def _expects_gpu(ctx: Context) -> bool:
    """A sign that this machine should have an NVIDIA GPU: one on the PCI bus (the host's, as a
    container sees it), NVIDIA_VISIBLE_DEVICES naming some, or --expect-gpus."""
    host = ctx.facts.host
    visible = (host.nvidia_visible_devices or "").strip().lower()
    return bool(
        (host.nvidia_pci_devices or 0) > 0
        or visible not in ("", "void", "none")
        or (ctx.expect_gpus or 0) > 0
    )


def _in_container_without_gpus(ctx: Context) -> bool:
    """A container missing its GPU runtime; without any sign of a GPU it is a CPU machine instead."""
    host = ctx.facts.host
    if ctx.facts.input.pasted:
        return False  # a paste never lists /dev/nvidia*: an empty list there is unknown, not "none"
    return bool(host.container) and not host.dev_nvidia and not ctx.nvml_ok and _expects_gpu(ctx)


def _no_gpu(ctx: Context, evidence: Dict[str, Any]) -> Finding:
    """No NVIDIA GPU: a fact, not a problem, unless a GPU is expected or torch is a CUDA build."""
    torch = ctx.facts.torch
    cuda_torch = ctx.torch_ok and bool(torch.cuda_build)
    cpu_torch = ctx.cuda_build_absent()
    if _expects_gpu(ctx):
        severity, fix = ERROR, "Run on a machine with an NVIDIA GPU (--expect-gpus asks for one)"
    elif cuda_torch:
        severity = WARNING
        fix = "On this machine the CPU build does the same in far less space: gpusetup install --cuda cpu"
    else:
        severity = INFO
        fix = (
            f"Nothing to do: torch {torch.version} is the CPU build, right for this machine"
            if cpu_torch
            else "On this machine install the CPU build of PyTorch: gpusetup install --cuda cpu"
        ) + "   (for a GPU check in CI: gpusetup doctor --expect-gpus N)"
    title = "No NVIDIA GPU found on this machine" + (
        f": the CPU build of torch {torch.version} is the right one" if cpu_torch else ""
    )
    return Finding("no-nvidia-gpu", severity, title, fix, {**evidence, "nvidia_pci_devices": 0})


@check(
    no_nvidia_gpu="no NVIDIA GPU is visible to this machine at all",
    no_nvidia_driver="an NVIDIA GPU is present but no NVIDIA driver is installed",
    driver_not_loaded="the NVIDIA driver is installed but its kernel module is not loaded",
)
def driver_presence(ctx: Context) -> Iterator[Finding]:
    status = ctx.facts.driver.nvml
    if ctx.nvml_ok or _in_container_without_gpus(ctx) or ctx.facts.host.is_wsl:
        return
    evidence = {"nvml": status, "nvml_error": ctx.facts.driver.nvml_error}
    if status == NvmlStatus.DRIVER_NOT_LOADED:
        yield Finding(
            "driver-not-loaded",
            ERROR,
            "The NVIDIA driver is installed but its kernel module is not loaded",
            "Usually a kernel update without a module rebuild: sudo apt install linux-headers-$(uname -r) "
            "&& sudo dkms autoinstall && sudo reboot   (with Secure Boot on, enrol the module key: "
            "sudo mokutil --import /var/lib/dkms/mok.pub)",
            evidence,
        )
        return
    if status not in (NvmlStatus.LIBRARY_NOT_FOUND, NvmlStatus.NOT_INSTALLED):
        return
    module = ctx.facts.host.proc_driver_version or ctx.facts.host.nvidia_module_version
    if module:
        yield Finding(
            "no-nvidia-driver",
            ERROR,
            f"The NVIDIA kernel module {module} is loaded but its libnvidia-ml.so.1 is missing",
            "Reinstall the driver's user-space libraries of the same version: sudo apt install "
            f"--reinstall {shlex.quote('libnvidia-compute-' + module.split('.')[0])} "
            f"{shlex.quote('nvidia-utils-' + module.split('.')[0])}",
            {**evidence, "kernel_module": module},
        )
        return
    pci = ctx.facts.host.nvidia_pci_devices
    if pci == 0 or (pci is None and ctx.facts.host.container and not _expects_gpu(ctx)):
        yield _no_gpu(ctx, evidence)
        return
    yield Finding(
        "no-nvidia-driver",
        ERROR,
        "No NVIDIA driver is installed (libnvidia-ml.so.1 not found)",
        "Install the driver from your distribution: sudo ubuntu-drivers install   (Debian: sudo apt "
        "install nvidia-driver; RHEL: sudo dnf module install nvidia-driver), then reboot",
        {**evidence, "nvidia_pci_devices": pci if pci is not None else "unknown"},
    )


@check(secure_boot_blocks_driver="Secure Boot refuses the unsigned NVIDIA kernel module")
def secure_boot(ctx: Context) -> Iterator[Finding]:
    host = ctx.facts.host
    module_missing = not (host.proc_driver_version or host.nvidia_module_version)
    if (
        host.secure_boot
        and module_missing
        and not ctx.nvml_ok
        and (host.nvidia_pci_devices or 0) > 0
    ):
        yield Finding(
            "secure-boot-blocks-driver",
            ERROR,
            "Secure Boot is on and the NVIDIA module is not loaded ('Key was rejected by service')",
            "Enrol the DKMS signing key and confirm it at the next boot's MOK screen: "
            "sudo mokutil --import /var/lib/dkms/mok.pub && sudo reboot   (or use the distribution's "
            "pre-signed driver packages, or turn Secure Boot off)",
            {"secure_boot": True, "nvidia_pci_devices": host.nvidia_pci_devices},
        )


@check(nouveau_loaded="the open-source nouveau driver holds the GPU")
def nouveau(ctx: Context) -> Iterator[Finding]:
    if ctx.facts.host.nouveau_loaded:
        yield Finding(
            "nouveau-loaded",
            ERROR,
            "The nouveau driver is loaded: the NVIDIA driver cannot own the GPU",
            "printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | sudo tee "
            "/etc/modprobe.d/blacklist-nouveau.conf && sudo update-initramfs -u && sudo reboot   "
            "(RHEL/Fedora: sudo dracut -f)",
            {"module": "/sys/module/nouveau"},
        )


_CONTAINER_MISMATCH_FIX = (
    "Inside a container, the libnvidia-ml the container loads is not the host kernel "
    "module's. Either the image ships its own driver libraries (libnvidia-ml.so, libcuda.so; "
    "check: dpkg -l | grep -E 'libnvidia-(compute|ml)'), which must not be in an image: "
    "rebuild it without them (no driver or libnvidia-* packages; the NVIDIA container "
    "toolkit mounts the host's at start). Or the host driver was upgraded without a reboot. "
    "On the host: " + _RELOAD_MODULES + ", then restart the container"
)


def _version_mismatch(driver: DriverFacts, host: HostFacts, evidence: Dict[str, Any]) -> Finding:
    evidence.update(
        kernel_module=host.proc_driver_version or host.nvidia_module_version or "unknown",
        nvml_library=driver.nvml_library or "unknown",
        nvml_library_version=driver.nvml_version,
    )
    fix = "The driver was upgraded while the old kernel module is still loaded: " + _RELOAD_MODULES
    if host.container:
        fix = _CONTAINER_MISMATCH_FIX
    return Finding(
        "nvml-version-mismatch",
        ERROR,
        "Failed to initialize NVML: Driver/library version mismatch",
        fix,
        {**evidence, "container": host.container or None},
    )


def _no_permission(driver: DriverFacts, host: HostFacts, evidence: Dict[str, Any]) -> Finding:
    return Finding(
        "nvml-no-permission",
        ERROR,
        "NVML has no permission to open the GPU",
        "ls -l /dev/nvidia*  — the device nodes must be readable by you: add yourself to the group "
        "that owns them (sudo usermod -aG video $USER, then log in again); in a container, run it "
        "with --gpus all",
        evidence,
    )


def _unknown_error(
    driver: DriverFacts, host: HostFacts, evidence: Dict[str, Any]
) -> Optional[Finding]:
    if not host.container:  # outside a container an unknown error says nothing doctor can fix
        return None
    return Finding(
        "nvml-unknown-error",
        ERROR,
        "Failed to initialize NVML: Unknown Error (this container lost access to its GPUs)",
        "Restart the container; to stop it recurring after 'systemctl daemon-reload', create the "
        "device symlinks on the host: sudo nvidia-ctk system create-dev-char-symlinks --create-all",
        {**evidence, "container": host.container},
    )


# The NVML status -> its finding (None: nothing to say here).
_NVML_FAILURES: Dict[
    NvmlStatus, Callable[[DriverFacts, HostFacts, Dict[str, Any]], Optional[Finding]]
] = {
    NvmlStatus.VERSION_MISMATCH: _version_mismatch,
    NvmlStatus.NO_PERMISSION: _no_permission,
    NvmlStatus.UNKNOWN: _unknown_error,
}


@check(
    nvml_version_mismatch="the driver library and the loaded kernel module differ (upgrade without reboot)",
    nvml_no_permission="NVML may not open the GPU device nodes",
    nvml_unknown_error="NVML fails with an unknown error (a container that lost its GPU access)",
    gpu_lost="a GPU has fallen off the bus",
)
def nvml_failures(ctx: Context) -> Iterator[Finding]:
    driver, host = ctx.facts.driver, ctx.facts.host
    evidence: Dict[str, Any] = {"nvml_error": driver.nvml_error}
    explain = _NVML_FAILURES.get(driver.nvml)
    finding = explain(driver, host, evidence) if explain is not None else None
    if (
        finding is not None
        and finding.id == "nvml-version-mismatch"
        and not host.container
        and not ctx.stated(Unstated.HOST)
    ):  # a paste that does not say whether this ran in a container: both fixes
        finding = replace(finding, fix=finding.fix + "   (" + _CONTAINER_MISMATCH_FIX + ")")
    if finding is not None:
        yield finding
    lost = [g for g in ctx.gpus if "lost" in g.error.lower()]
    if driver.nvml == NvmlStatus.GPU_LOST or lost:
        yield Finding(
            "gpu-lost",
            ERROR,
            "A GPU has fallen off the bus (NVML: GPU is lost)",
            "sudo reboot; if it recurs check power cables and PSU, PCIe seating and risers, cooling, "
            "and the kernel log: sudo dmesg | grep -i xid   (Xid 79 = fallen off the bus)",
            {**evidence, "gpus": [g.index for g in lost]},
        )


@check(
    wsl_driver_inside="a Linux NVIDIA driver is installed inside WSL2",
    wsl_libcuda_missing="WSL2 without the Windows driver's libcuda",
)
def wsl(ctx: Context) -> Iterator[Finding]:
    host = ctx.facts.host
    if not host.is_wsl:
        return
    if host.linux_driver_in_wsl:
        yield Finding(
            "wsl-driver-inside",
            ERROR,
            "A Linux NVIDIA driver is installed inside WSL2 and shadows the Windows one",
            "Remove it inside WSL: sudo apt-get remove --purge '^nvidia-driver-.*' '^libnvidia-.*' — "
            "WSL2 gets the driver from Windows; install only the WSL-Ubuntu CUDA toolkit package",
            {"files": host.linux_driver_in_wsl},
        )
    if not host.wsl_libcuda and ctx.stated(Unstated.HOST):
        yield Finding(
            "wsl-libcuda-missing",
            ERROR,
            "WSL2 without /usr/lib/wsl/lib/libcuda.so.1: the Windows NVIDIA driver is missing or old",
            "Install or update the NVIDIA driver on Windows (not inside WSL), then run: wsl --shutdown",
            {"wsl_lib": "/usr/lib/wsl/lib"},
        )


@check(
    container_no_gpu_runtime="a container started without the NVIDIA container runtime",
    shm_too_small="the container's /dev/shm is too small for DataLoader workers and NCCL",
)
def container(ctx: Context) -> Iterator[Finding]:
    host = ctx.facts.host
    if not host.container:
        return
    if _in_container_without_gpus(ctx):
        yield Finding(
            "container-no-gpu-runtime",
            ERROR,
            f"Inside a {host.container} container with no NVIDIA devices (/dev/nvidia* missing)",
            "Start the container with GPUs: docker run --gpus all ...   (host, once: install "
            "nvidia-container-toolkit, then sudo nvidia-ctk runtime configure --runtime=docker && "
            "sudo systemctl restart docker; Kubernetes: request nvidia.com/gpu)",
            {"container": host.container, "NVIDIA_VISIBLE_DEVICES": host.nvidia_visible_devices},
        )
    if host.shm_bytes is not None and host.shm_bytes < 512 * 2**20:
        yield Finding(
            "shm-too-small",
            WARNING,
            f"/dev/shm is only {host.shm_bytes // 2**20} MiB: DataLoader workers and NCCL will crash",
            "Restart the container with a bigger /dev/shm: docker run --shm-size=8g ... (or --ipc=host)",
            {"shm_mib": host.shm_bytes // 2**20, "needed_mib": 512},
        )


@check(fabric_manager_inactive="an NVSwitch system whose fabric manager has not set up the fabric")
def fabric(ctx: Context) -> Iterator[Finding]:
    waiting = [g for g in ctx.gpus if g.fabric_state in ("not-started", "in-progress")]
    if not waiting:
        return
    branch = ctx.driver_version.branch if ctx.driver_version else "<driver branch>"
    yield Finding(
        "fabric-manager-inactive",
        ERROR,
        "NVSwitch fabric not initialised: CUDA fails with error 802 'system not yet initialized'",
        f"Install the fabric manager matching driver {ctx.driver_version or '?'} exactly and start it: "
        f"sudo apt install nvidia-fabricmanager-{branch} && sudo systemctl enable --now nvidia-fabricmanager",
        {"gpus": {g.index: g.fabric_state for g in waiting}},
    )


@check(persistence_mode_off="persistence mode is off: every CUDA start re-initialises the GPU")
def persistence(ctx: Context) -> Iterator[Finding]:
    if ctx.os_name != "linux":
        return
    off = [g.index for g in ctx.gpus if g.persistence_mode is False]
    if off:
        yield Finding(
            "persistence-mode-off",
            INFO,
            "Persistence mode is off: each process pays the GPU start-up cost",
            "sudo systemctl enable --now nvidia-persistenced   (or: sudo nvidia-smi -pm 1)",
            {"gpus": off},
        )
