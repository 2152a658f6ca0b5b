"""Facts about the host from /proc, /sys, /dev and the environment: no NVML, no subprocesses."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from gpusetup.facts.model import HostFacts

# The environment variables that change what CUDA and torch do.
RELEVANT_ENV = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_HOME",
    "CUDA_PATH",
    "LD_LIBRARY_PATH",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "PYTORCH_CUDA_ALLOC_CONF",
    "PYTORCH_NVML_BASED_CUDA_CHECK",
    "CUDA_MODULE_LOADING",
    "CUDA_LAUNCH_BLOCKING",
    "TORCH_CUDA_ARCH_LIST",
    "NCCL_P2P_DISABLE",
    "NCCL_IB_DISABLE",
    "PYTHONNOUSERSITE",
    "CONDA_PREFIX",
    "VIRTUAL_ENV",
)

_WSL_LIB = "/usr/lib/wsl/lib"
_LINUX_NVML_COPIES = (
    "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib64/libnvidia-ml.so.1",
    "/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1",
)


def collect_host(root: str = "/", environ: Optional[Mapping[str, str]] = None) -> HostFacts:
    """Read host facts; root lets tests point at a fake file system tree."""
    env = os.environ if environ is None else environ
    base = Path(root)
    facts = HostFacts(
        hostname=platform.node(),
        os=platform.system(),
        kernel=platform.release(),
        machine=platform.machine(),
        distro=_distro(base),
        python=f"{sys.executable} ({platform.python_version()})",
        env=relevant_env(env),
    )
    facts.is_wsl = _is_wsl(base, env)
    if facts.is_wsl:
        libcuda = base / _WSL_LIB.lstrip("/") / "libcuda.so.1"
        facts.wsl_libcuda = str(libcuda) if libcuda.exists() else None
        facts.linux_driver_in_wsl = [
            p for p in _LINUX_NVML_COPIES if (base / p.lstrip("/")).exists()
        ]
    facts.container = _container(base, env)
    facts.dev_nvidia = sorted(p.name for p in (base / "dev").glob("nvidia*"))
    facts.nvidia_visible_devices = env.get("NVIDIA_VISIBLE_DEVICES")
    facts.shm_bytes = _shm_bytes(base)
    facts.nouveau_loaded = (base / "sys/module/nouveau").exists()
    facts.nvidia_module_version = _read(base / "sys/module/nvidia/version")
    facts.proc_driver_version = _proc_driver_version(base)
    facts.nvidia_pci_devices, facts.nvswitch_count = _nvidia_pci(base)
    facts.secure_boot = _secure_boot(base)
    return facts


_SECURE_BOOT_VAR = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def _secure_boot(base: Path) -> Optional[bool]:
    """The UEFI SecureBoot variable: 4 attribute bytes, then 1 when enabled."""
    try:
        data = (base / _SECURE_BOOT_VAR).read_bytes()
    except OSError:
        return None
    return bool(data[-1]) if len(data) >= 5 else None


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def _distro(base: Path) -> str:
    text = _read(base / "etc/os-release") or ""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def _is_wsl(base: Path, env: Mapping[str, str]) -> bool:
    version = (_read(base / "proc/version") or "").lower()
    return "microsoft" in version or "WSL_DISTRO_NAME" in env or (base / "dev/dxg").exists()


def _container(base: Path, env: Mapping[str, str]) -> str:
    if (base / ".dockerenv").exists():
        return "docker"
    if (base / "run/.containerenv").exists():
        return "podman"
    if "KUBERNETES_SERVICE_HOST" in env:
        return "kubernetes"
    cgroup = _read(base / "proc/1/cgroup") or ""
    if any(word in cgroup for word in ("docker", "kubepods", "containerd", "lxc")):
        return "container"
    return ""


def _shm_bytes(base: Path) -> Optional[int]:
    path = base / "dev/shm"
    if not path.exists():
        return None
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_frsize * stat.f_blocks


def _proc_driver_version(base: Path) -> Optional[str]:
    """'NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ...' -> 535.104.05."""
    text = _read(base / "proc/driver/nvidia/version")
    if not text:
        return None
    words = text.splitlines()[0].split()
    for i, word in enumerate(words):
        if word == "Module" and i + 1 < len(words):
            candidate = words[i + 1] if words[i + 1] != "for" else ""
            if candidate[:1].isdigit():
                return candidate
    digits = [w for w in words if w[:1].isdigit() and w.count(".") >= 1]
    return digits[0] if digits else None


def _nvidia_pci(base: Path) -> tuple[Optional[int], int]:
    """GPUs (display/3D class) and NVSwitches (bridge class) with NVIDIA's vendor id 0x10de."""
    devices = base / "sys/bus/pci/devices"
    if not devices.is_dir():
        return None, 0
    gpus, switches = 0, 0
    for dev in devices.iterdir():
        if _read(dev / "vendor") != "0x10de":
            continue
        klass = _read(dev / "class") or ""
        if klass.startswith("0x03"):
            gpus += 1
        elif klass.startswith("0x0680"):
            switches += 1
    return gpus, switches


def relevant_env(environ: Mapping[str, str]) -> Dict[str, str]:
    return {k: environ[k] for k in RELEVANT_ENV if k in environ}


def ld_library_dirs(value: Optional[str]) -> List[str]:
    return [part for part in (value or "").split(":") if part]
