"""Checks and renderers on facts read from pastes: script-set variables, fabric manager, unknowns, Markdown."""

from __future__ import annotations

from typing import List

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.model import Facts
from gpusetup.profiles.model import Profiles
from tests.conftest import facts_fixture


def _findings(facts: Facts, profiles: Profiles, fid: str) -> List[Finding]:
    return [f for f in run_checks(Context(facts, profiles)) if f.id == fid]


def test_cuda_visible_devices_set_by_the_script_says_change_the_assignment(
    profiles: Profiles,
) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "7"  # hides the only GPU
    facts.host.env_set_by_script = ["CUDA_VISIBLE_DEVICES"]
    (finding,) = _findings(facts, profiles, "cuda-visible-devices")
    assert "unset" not in finding.fix.lower()
    assert "change that assignment" in finding.fix
    assert finding.evidence["set_by_script"] is True


def test_cuda_visible_devices_from_the_shell_may_be_unset(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "7"
    (finding,) = _findings(facts, profiles, "cuda-visible-devices")
    assert finding.fix.startswith("unset CUDA_VISIBLE_DEVICES")


_REFUSAL_LOG = (
    "nv-fabricmanager[3228]: fabric manager NVIDIA GPU driver interface version 530.30.02 don't "
    "match with driver version 530.41.03. Please update with matching NVIDIA driver package."
)
_ERROR_802 = "RuntimeError: Unexpected error from cudaGetDeviceCount(). Error 802: system not yet initialized"


def test_fabric_manager_version_behind_the_driver_pins_the_driver_version(
    profiles: Profiles,
) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")  # Ubuntu, 4 NVSwitches
    facts.driver.version = "550.54.15"
    facts.host.fabric_manager.unit_state = "failed"
    facts.host.fabric_manager.version = "550.54.14"
    (finding,) = _findings(facts, profiles, "fabric-manager-version-mismatch")
    assert finding.evidence["fabric_manager_version"] == "550.54.14"
    assert finding.evidence["driver"] == "550.54.15"
    assert "sudo apt-get install -y nvidia-fabricmanager-550=550.54.15-1" in finding.fix
    assert "apt-mark hold nvidia-fabricmanager-550" in finding.fix
    assert "dnf" not in finding.fix  # the distro is known to be Ubuntu
    assert _findings(facts, profiles, "fabric-manager-failed") == []  # the mismatch names it


def test_fabric_manager_on_rhel_gets_dnf(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.host.distro = "Rocky Linux 9.3 (Blue Onyx)"
    facts.driver.version = "550.54.15"
    facts.host.fabric_manager.version = "550.54.14"
    (finding,) = _findings(facts, profiles, "fabric-manager-version-mismatch")
    assert "sudo dnf install -y nvidia-fabric-manager-550.54.15-1" in finding.fix
    assert "versionlock" in finding.fix and "apt-get" not in finding.fix


def test_fabric_manager_mismatch_from_the_log_alone(profiles: Profiles) -> None:
    """An error-text paste: only the journal line and error 802; no driver version known."""
    facts = Facts()
    facts.driver.nvml = "not-collected"
    facts.host.fabric_manager.log_error = _REFUSAL_LOG
    facts.torch.init_warnings = [_ERROR_802]
    (finding,) = _findings(facts, profiles, "fabric-manager-version-mismatch")
    assert finding.evidence["fabric_manager_version"] == "530.30.02"
    assert finding.evidence["driver"] == "530.41.03"
    assert "nvidia-fabricmanager-530=530.41.03-1" in finding.fix


def test_fabric_manager_inactive_without_nvswitch_stands_down(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.fabric_manager.unit_state = "inactive"
    facts.host.fabric_manager.version = "535.54.03"  # installed, stale, idle: harms nothing
    fired = {f.id for f in run_checks(Context(facts, profiles))}
    assert not fired & {"fabric-manager-failed", "fabric-manager-version-mismatch"}


def test_fabric_manager_inactive_with_nvswitches_and_failed_anywhere_are_reported(
    profiles: Profiles,
) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.host.fabric_manager.unit_state = "inactive"
    assert len(_findings(facts, profiles, "fabric-manager-failed")) == 1
    workstation = facts_fixture("handmade-rtx4090-workstation.json")
    workstation.host.fabric_manager.unit_state = "failed"
    (failed,) = _findings(workstation, profiles, "fabric-manager-failed")
    assert "failed" in failed.title


def test_error_802_points_at_the_fabric_manager_finding(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.torch.cuda_available, facts.torch.init_error = False, _ERROR_802
    facts.host.fabric_manager.unit_state = "failed"
    (init,) = _findings(facts, profiles, "cuda-init-failed")
    assert "see fabric-manager-failed" in init.fix
    facts.host.fabric_manager.log_error = _REFUSAL_LOG
    (init,) = _findings(facts, profiles, "cuda-init-failed")
    assert "see fabric-manager-version-mismatch" in init.fix
