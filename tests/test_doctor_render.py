"""Checks and renderers on facts read from pastes: script-set variables, fabric manager, unknowns, Markdown."""

from __future__ import annotations

from typing import List

import pytest

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


def _pasted_torch(version: str) -> Facts:
    """A collect_env-like paste: torch stated, its CUDA build line not, nothing else probed."""
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.input.kinds, facts.input.unstated = ["collect-env"], ["host", "libraries"]
    facts.torch.version, facts.torch.cuda_build = version, None
    facts.torch.cuda_available = facts.torch.device_count = None
    facts.torch.python = ""
    return facts


def test_a_paste_that_does_not_state_the_build_is_not_called_a_cpu_build(
    profiles: Profiles,
) -> None:
    facts = _pasted_torch("2.1.0")
    facts.torch.unavailable["cuda_build"] = "not in the report"
    ctx = Context(facts, profiles)
    assert ctx.cuda_build_unknown() and not ctx.cuda_build_absent()
    assert _findings(facts, profiles, "torch-cpu-build") == []
    suffixed = _pasted_torch("2.1.0+cu121")  # the version says CUDA, the build line is missing
    assert not Context(suffixed, profiles).cuda_build_absent()
    assert _findings(suffixed, profiles, "torch-cpu-build") == []


def test_a_paste_that_states_a_cpu_build_is_one(profiles: Profiles) -> None:
    facts = _pasted_torch("2.1.0+cpu")
    assert Context(facts, profiles).cuda_build_absent()
    assert len(_findings(facts, profiles, "torch-cpu-build")) == 1


def test_not_in_report_runs_last_and_lists_only_checks_that_did_not_fire(
    profiles: Profiles,
) -> None:
    facts = _pasted_torch("2.1.0+cu121")
    facts.torch.cuda_build = "12.1"
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "7"  # the paste showed it: the check fires
    findings = run_checks(Context(facts, profiles))
    assert "cuda-visible-devices" in [f.id for f in findings]
    (host,) = [f for f in findings if f.id == "not-in-report" and f.evidence["area"] == "host"]
    assert "cuda-visible-devices" not in host.evidence["checks"]
    assert "cuda-visible-devices" not in host.title
    assert "container-no-gpu-runtime" in host.evidence["checks"]
    # ignoring the fired check does not make it "unchecked": it ran
    ignored = run_checks(Context(facts, profiles), ignore=["cuda-visible-devices"])
    (again,) = [f for f in ignored if f.id == "not-in-report" and f.evidence["area"] == "host"]
    assert "cuda-visible-devices" not in again.evidence["checks"]


def _human(facts: Facts, profiles: Profiles) -> str:
    import io

    from rich.console import Console

    from gpusetup.doctor.report import diagnose
    from gpusetup.render.doctor import render_doctor

    out = io.StringIO()
    render_doctor(diagnose(facts, profiles), Console(file=out, width=200, no_color=True))
    return out.getvalue()


def test_unknown_values_of_a_paste_read_not_in_the_report(profiles: Profiles) -> None:
    facts = _pasted_torch("2.1.0")
    facts.torch.unavailable["cuda_build"] = "not in the report"
    facts.host.distro = facts.host.os = facts.host.kernel = facts.host.machine = ""
    facts.driver.cuda_version = None
    text = _human(facts, profiles)
    assert "(build not in the report)" in text and "(CPU)" not in text
    assert "cuda available: not in the report" in text
    assert "device count not in the report" in text
    assert "system: not in the report" in text
    assert "supports CUDA ≤ not in the report" in text


def test_nvml_mismatch_in_a_container_names_the_image_libraries_and_the_host(
    profiles: Profiles,
) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.driver.nvml, facts.host.container = "version-mismatch", "docker"
    (finding,) = _findings(facts, profiles, "nvml-version-mismatch")
    assert "libnvidia-ml.so" in finding.fix and "libcuda.so" in finding.fix
    assert "rebuild it without them" in finding.fix
    assert "On the host: sudo reboot" in finding.fix
    bare = facts_fixture("handmade-rtx4090-workstation.json")
    bare.driver.nvml = "version-mismatch"
    (host,) = _findings(bare, profiles, "nvml-version-mismatch")
    assert "On the host" not in host.fix and "image" not in host.fix


_NO_DRIVER = (
    "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU "
    "and installed a driver from http://www.nvidia.com/Download/index.aspx"
)


def _error_text_paste(caps: str) -> Facts:
    """What an error-text paste holds: the variable as the user showed it, and torch's error."""
    facts = Facts()
    facts.driver.nvml = "not-collected"
    facts.input.kinds = ["error-text"]
    facts.input.unstated = ["driver", "gpu-arch", "gpu-health", "host", "libraries", "packages",
                            "toolkit", "torch"]  # fmt: skip
    facts.host.env["NVIDIA_DRIVER_CAPABILITIES"] = caps
    facts.torch.init_warnings = [_NO_DRIVER]
    return facts


def test_capabilities_without_compute_from_an_error_paste(profiles: Profiles) -> None:
    (finding,) = _findings(_error_text_paste("utility"), profiles, "driver-capabilities-no-compute")
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in finding.fix
    assert finding.evidence["torch_error"] == _NO_DRIVER
    for fine in ("compute,utility", "all", "graphics,compute"):
        assert _findings(_error_text_paste(fine), profiles, "driver-capabilities-no-compute") == []


def test_capabilities_without_compute_set_by_the_command(profiles: Profiles) -> None:
    facts = _error_text_paste("utility,video")
    facts.host.env_set_by_script = ["NVIDIA_DRIVER_CAPABILITIES"]
    (finding,) = _findings(facts, profiles, "driver-capabilities-no-compute")
    assert "change that assignment" in finding.fix


def test_capabilities_without_compute_stand_down_where_cuda_works(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.container, facts.host.env["NVIDIA_DRIVER_CAPABILITIES"] = "docker", "utility"
    assert facts.torch.cuda_available is True
    assert _findings(facts, profiles, "driver-capabilities-no-compute") == []
    facts.torch.cuda_available, facts.torch.init_error = False, _NO_DRIVER
    (init,) = _findings(facts, profiles, "cuda-init-failed")
    assert "see driver-capabilities-no-compute" in init.fix


def _markdown(facts: Facts, profiles: Profiles) -> str:
    from gpusetup.doctor.report import diagnose
    from gpusetup.render.markdown import render_markdown

    return render_markdown(diagnose(facts, profiles))


def test_markdown_of_an_error_text_paste_cause_then_others_then_what_to_collect(
    profiles: Profiles,
) -> None:
    facts = _error_text_paste("utility")
    facts.host.fabric_manager.unit_state = "failed"  # a second, unrelated finding
    out = _markdown(facts, profiles)
    assert out.startswith("### gpusetup doctor\n\nRead: error-text paste.")
    cause = out.index("**Likely cause: `")
    others, collect = out.index("**Other findings**"), out.index("**What to collect next**")
    assert cause < others < collect
    assert "`fabric-manager-failed`" in out[others:collect]
    # one line per command: the host and the libraries are both collected by doctor --json
    assert out.count("`gpusetup doctor --json`") == 1
    assert "`python -m torch.utils.collect_env` (unchecked without it: torch-cpu-build" in out
    assert out.index("`python -m torch.utils.collect_env`") < out.index("`nvidia-smi`")


def test_markdown_names_the_specific_cause_before_the_symptom(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.input.kinds = ["collect-env"]
    facts.torch.cuda_available, facts.torch.init_error = False, _ERROR_802
    facts.host.fabric_manager.log_error = _REFUSAL_LOG
    out = _markdown(facts, profiles)
    assert "**Likely cause: `fabric-manager-version-mismatch`**" in out
    assert out.index("fabric-manager-version-mismatch") < out.index("`cuda-init-failed`")
    assert "nvidia-fabricmanager-530=530.41.03-1" in out


def test_cuda_visible_devices_that_hides_any_count_fires_without_the_gpus(
    profiles: Profiles,
) -> None:
    """An error-text paste shows the script's assignment but not the GPUs."""
    facts = _error_text_paste("compute,utility")
    facts.torch.init_warnings = []
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "-1"
    facts.host.env_set_by_script = ["CUDA_VISIBLE_DEVICES"]
    (finding,) = _findings(facts, profiles, "cuda-visible-devices")
    assert "change that assignment" in finding.fix and "unset" not in finding.fix.lower()
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "3"  # hides all only where there are <= 3 GPUs
    assert _findings(facts, profiles, "cuda-visible-devices") == []


def test_error_text_pastes_through_the_reader_give_the_cause(profiles: Profiles) -> None:
    """End to end: the paste reader's facts (error-text) reach the right finding and fix."""
    from gpusetup.facts.paste import read_paste

    fm = read_paste(
        "$ sudo systemctl status nvidia-fabricmanager\n"
        "     Active: failed (Result: exit-code) since Tue 2023-05-02 10:00:00 UTC; 5min ago\n"
        f"May 02 10:00:00 node1 {_REFUSAL_LOG}\n"
        f"UserWarning: CUDA initialization: {_ERROR_802}\n"
    )
    assert fm.input.kinds == ["error-text"]
    (finding,) = _findings(fm, profiles, "fabric-manager-version-mismatch")
    assert "nvidia-fabricmanager-530=530.41.03-1" in finding.fix
    caps = read_paste(
        "docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=utility -it img python train.py\n"
        f"{_NO_DRIVER}\n"
    )
    (capability,) = _findings(caps, profiles, "driver-capabilities-no-compute")
    assert "change that assignment" in capability.fix  # docker -e is the command's own setting


def test_nvml_mismatch_in_a_paste_that_does_not_say_container_gives_both_fixes(
    profiles: Profiles,
) -> None:
    from gpusetup.facts.paste import read_paste

    facts = read_paste(
        "$ nvidia-smi\nFailed to initialize NVML: Driver/library version mismatch\n"
        "NVML library version: 535.183\n"
    )
    (finding,) = _findings(facts, profiles, "nvml-version-mismatch")
    assert finding.fix.startswith("The driver was upgraded while the old kernel module")
    assert "Inside a container" in finding.fix and "On the host: sudo reboot" in finding.fix
    assert finding.evidence["nvml_library_version"] == "535.183"


@pytest.mark.parametrize(
    ("command", "fires"),
    [
        ("docker run --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all -it --rm img", True),
        (
            (
                "docker run --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all "
                "-e NVIDIA_DRIVER_CAPABILITIES=compute,utility -it --rm img"
            ),
            False,
        ),
    ],
)
def test_handmade_docker_run_without_capabilities_is_a_warning(command: str, fires: bool) -> None:
    """The image may set the capabilities itself (nvidia/cuda images do): a warning, with the flag."""
    from gpusetup.doctor.context import Context
    from gpusetup.doctor.registry import run_checks
    from gpusetup.facts.paste import read_paste
    from gpusetup.profiles.load import load_profiles

    facts = read_paste(
        f"$ {command}\nRuntimeError: CUDA error: no CUDA-capable device is detected\n"
    )
    found = [
        f
        for f in run_checks(Context(facts, load_profiles()))
        if f.id == "driver-capabilities-no-compute"
    ]
    assert bool(found) is fires, found
    if fires:
        assert found[0].severity.value == "warning"
        assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in found[0].fix
