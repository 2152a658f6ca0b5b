"""Host and toolkit facts read from fake file-system trees and fake environments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from gpusetup.facts.host import collect_host
from gpusetup.facts.toolkit import collect_toolkit


def _write(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _pci(root: Path, name: str, vendor: str, klass: str) -> None:
    _write(root, f"sys/bus/pci/devices/{name}/vendor", vendor + "\n")
    _write(root, f"sys/bus/pci/devices/{name}/class", klass + "\n")


def test_bare_metal_with_driver(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "proc/driver/nvidia/version",
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n",
    )
    _write(tmp_path, "sys/module/nvidia/version", "535.104.05\n")
    _write(tmp_path, "dev/nvidia0")
    _pci(tmp_path, "0000:18:00.0", "0x10de", "0x030200")
    _pci(tmp_path, "0000:05:00.0", "0x10de", "0x068000")
    _pci(tmp_path, "0000:00:02.0", "0x8086", "0x030000")
    host = collect_host(str(tmp_path), environ={"CUDA_VISIBLE_DEVICES": "0", "HOME": "/root"})
    assert host.proc_driver_version == host.nvidia_module_version == "535.104.05"
    assert (host.nvidia_pci_devices, host.nvswitch_count) == (1, 1)
    assert host.dev_nvidia == ["nvidia0"] and host.env == {"CUDA_VISIBLE_DEVICES": "0"}
    assert not host.is_wsl and host.container == "" and not host.nouveau_loaded


def test_secure_boot_variable(tmp_path: Path) -> None:
    var = tmp_path / "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
    var.parent.mkdir(parents=True)
    var.write_bytes(b"\x06\x00\x00\x00\x01")
    assert collect_host(str(tmp_path), environ={}).secure_boot is True
    var.write_bytes(b"\x06\x00\x00\x00\x00")
    assert collect_host(str(tmp_path), environ={}).secure_boot is False


def test_open_kernel_module_version_line(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "proc/driver/nvidia/version",
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.124.06  Release Build\n",
    )
    assert collect_host(str(tmp_path), environ={}).proc_driver_version == "570.124.06"


def test_wsl_with_a_linux_driver_inside(tmp_path: Path) -> None:
    _write(tmp_path, "proc/version", "Linux version 5.15.167.4-microsoft-standard-WSL2\n")
    _write(tmp_path, "usr/lib/wsl/lib/libcuda.so.1")
    _write(tmp_path, "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1")
    host = collect_host(str(tmp_path), environ={})
    assert host.is_wsl and host.wsl_libcuda and host.linux_driver_in_wsl


def test_container_and_nouveau(tmp_path: Path) -> None:
    _write(tmp_path, ".dockerenv")
    (tmp_path / "sys/module/nouveau").mkdir(parents=True)
    host = collect_host(str(tmp_path), environ={})
    assert host.container == "docker" and host.nouveau_loaded and host.nvidia_pci_devices is None


def _toolkit(root: Path, version: str) -> Path:
    home = root / f"usr/local/cuda-{version}"
    _write(home, "bin/nvcc", "#!/bin/sh\n").chmod(0o755)
    _write(
        home, "version.json", json.dumps({"cuda": {"name": "CUDA SDK", "version": f"{version}.1"}})
    )
    return home


def _no_nvcc(_: str) -> Optional[str]:
    return None


def test_toolkits_cuda_home_and_cudnn(tmp_path: Path) -> None:
    home = _toolkit(tmp_path, "12.1")
    _toolkit(tmp_path, "11.8")
    _write(
        home,
        "include/cudnn_version.h",
        "#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 7\n",
    )
    facts = collect_toolkit({"CUDA_HOME": str(home)}, which=_no_nvcc, root=str(tmp_path))
    assert (
        facts.cuda_home == str(home)
        and facts.cuda_home_via == "CUDA_HOME"
        and facts.cuda_home_exists
    )
    assert sorted(n.version or "" for n in facts.nvcc) == ["11.8", "12.1"]
    assert facts.cudnn_version == "8.9.7"


def test_cuda_home_from_nvcc_on_path_like_torch(tmp_path: Path) -> None:
    home = _toolkit(tmp_path, "12.4")
    facts = collect_toolkit({}, which=lambda _: str(home / "bin/nvcc"), root=str(tmp_path))
    assert (facts.cuda_home, facts.cuda_home_via) == (str(home), "nvcc on PATH")


def test_no_toolkit(tmp_path: Path) -> None:
    facts = collect_toolkit({}, which=_no_nvcc, root=str(tmp_path))
    assert facts.nvcc == [] and facts.cuda_home is None


def test_ld_library_path_libraries(tmp_path: Path) -> None:
    lib = tmp_path / "cuda-12.1/lib64"
    for name in ("libcudart.so.12", "libnvJitLink.so.12", "libz.so.1"):
        _write(lib, name)
    facts = collect_toolkit(
        {"LD_LIBRARY_PATH": f"{lib}:/nonexistent"}, which=_no_nvcc, root=str(tmp_path)
    )
    assert facts.ld_library_path[0].libraries == ["libcudart.so.12", "libnvJitLink.so.12"]
    assert facts.ld_library_path[1].libraries == []
