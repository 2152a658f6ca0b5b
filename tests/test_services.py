"""Fabric manager and container toolkit facts, read from real child processes of stand-in programs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gpusetup.facts.model import HostFacts
from gpusetup.facts.services import collect_services


def _program(bin_dir: Path, name: str, output: str, code: int = 0) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_fabric_manager_behind_the_driver_is_read(tmp_path: Path) -> None:
    bin_dir, root = tmp_path / "bin", tmp_path / "root"
    bin_dir.mkdir()
    (root / "var/log").mkdir(parents=True)
    _program(bin_dir, "nv-fabricmanager", "Fabric Manager version is : 530.30.02")
    _program(bin_dir, "systemctl", "failed")
    _program(bin_dir, "nvidia-ctk", "NVIDIA Container Toolkit CLI version 1.14.3")
    # the message as NVIDIA/gpu-operator#544 quotes it
    (root / "var/log/fabricmanager.log").write_text(
        "[Jun 28 2023 10:00:00] [INFO] Fabric Manager starting\n"
        "[Jun 28 2023 10:00:00] [ERROR] fabric manager NVIDIA GPU driver interface version 530.30.02 "
        "don't match with driver version 530.41.03. Please update with matching NVIDIA driver package.\n"
    )
    host = HostFacts(nvswitch_count=4)
    collect_services(host, str(root), path=str(bin_dir))
    assert host.fabric_manager.version == "530.30.02" and host.fabric_manager.unit_state == "failed"
    assert "530.41.03" in host.fabric_manager.log_error
    assert host.container_toolkit_version == "1.14.3"


def test_nothing_installed_leaves_everything_unknown(tmp_path: Path) -> None:
    host = HostFacts()
    collect_services(host, str(tmp_path), path=str(tmp_path))
    assert host.fabric_manager.unit_state is None and host.fabric_manager.version is None
    assert host.container_toolkit_version is None
    assert os.listdir(tmp_path) == []
