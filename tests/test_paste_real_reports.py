"""Each failure class of issue #14, read end to end from a real report the way a user would:
`gpusetup doctor --facts FILE --json` on the reporter's verbatim paste (tests/fixtures/paste-classes/).

A test marked xfail names exactly what doctor still lacks to get the thread's answer from the paste;
when the readers or checks learn it, the strict marker turns the test red so the marker is removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from gpusetup.cli import app
from tests.conftest import FIXTURES, make_runner

runner = make_runner()
CLASSES = FIXTURES / "paste-classes"
PASTE = FIXTURES / "paste"


def _doctor(path: Path) -> Dict[str, Any]:
    """The JSON report for one paste; a refusal (exit 2) fails here, with doctor's one line."""
    result = runner.invoke(app, ["doctor", "--facts", str(path), "--json"])
    assert result.exit_code in (0, 1), result.stderr.strip()[:300]
    report: Dict[str, Any] = json.loads(result.stdout)
    return report


def _by_id(report: Dict[str, Any], fid: str) -> List[Dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == fid]


def _ids(report: Dict[str, Any]) -> List[str]:
    return [f["id"] for f in report["findings"]]


def test_every_class_fixture_has_its_source_beside_it() -> None:
    texts = sorted(CLASSES.glob("*.txt"))
    assert len(texts) >= 12
    for text in texts:
        source = text.with_suffix(".source").read_text(encoding="utf-8")
        assert "https://github.com/" in source, text.name
        assert "verbatim; only cut to the reporter's paste" in source, text.name


# --- error 802: the fabric manager is not the driver's version ---------------------------------------


def test_fabric_manager_journal_line_gpu_operator_544() -> None:
    report = _doctor(CLASSES / "gpu-operator-544-fabric-manager-journal.txt")
    (finding,) = _by_id(report, "fabric-manager-version-mismatch")
    assert finding["evidence"]["fabric_manager_version"] == "530.30.02"
    assert "530.41.03" in finding["fix"]  # the fabric manager of exactly the driver's version
    assert "systemctl start" not in finding["fix"]  # starting it again does not help


def test_fabric_manager_error_quoted_siderolabs_pkgs_720() -> None:
    report = _doctor(CLASSES / "siderolabs-pkgs-720-fabric-manager-error.txt")
    (finding,) = _by_id(report, "fabric-manager-version-mismatch")
    assert finding["evidence"]["fabric_manager_version"] == "525.85.12"
    assert "530.41.03" in finding["fix"]


def test_error_802_with_a_truncated_fabric_manager_journal_dstack_2348() -> None:
    report = _doctor(CLASSES / "dstack-2348-error-802-fabric-manager-journal-truncated.txt")
    fabric = [f for f in report["findings"] if f["id"].startswith("fabric-manager-")]
    assert fabric, _ids(report)
    assert any("535.183.01" in json.dumps(f["evidence"]) for f in fabric)
    for finding in _by_id(report, "cuda-init-failed"):
        assert "systemctl start nvidia-fabricmanager" not in finding["fix"]


# --- error 804: forward-compatibility libcuda on a GeForce card --------------------------------------


def test_error_804_forward_compat_on_geforce_torchpod_43() -> None:
    report = _doctor(CLASSES / "torchpod-43-error-804-geforce.txt")
    (finding,) = _by_id(report, "cuda-compat-libs")
    assert finding["severity"] == "error"
    assert finding["evidence"]["nvml_cuda"] == "11.3"
    assert finding["evidence"]["driver_native_cuda"] == "11.2"


# --- a container whose NVIDIA_DRIVER_CAPABILITIES lacks compute ---------------------------------------


def test_capabilities_unset_in_a_docker_run_nvidia_docker_533() -> None:
    report = _doctor(CLASSES / "nvidia-docker-533-no-compute-capability.txt")
    (finding,) = _by_id(report, "driver-capabilities-no-compute")
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in finding["fix"]


def test_nvidia_smi_works_in_the_container_torch_does_not_abdbarho_348() -> None:
    """Prose and a Python session: torch imported and sees no CUDA; the container is only in the prose,
    so doctor does not assume one, but asks for the runtime's variables that decide it."""
    report = _doctor(CLASSES / "abdbarho-sd-webui-docker-348-found-no-driver.txt")
    torch = report["facts"]["torch"]
    assert torch["status"] == "ok" and torch["cuda_available"] is False  # read from the session
    assert "cuda_build" in torch["unavailable"]  # not shown, so not called a CPU build
    named = _by_id(report, "driver-capabilities-no-compute") or [
        f for f in _by_id(report, "not-in-report") if "NVIDIA_DRIVER_CAPABILITIES" in f["fix"]
    ]
    assert named, _ids(report)


# --- known-broken build: torch 2.0.0+cu118 and libnvrtc ----------------------------------------------


def test_known_broken_2_0_0_cu118_from_a_truncated_collect_env_pytorch_97041() -> None:
    report = _doctor(CLASSES / "pytorch-97041-collect-env-2.0.0-cu118-libnvrtc-truncated.txt")
    (finding,) = _by_id(report, "known-broken-build")
    assert "2.0.1" in finding["fix"]  # the release that fixes it


def test_the_libnvrtc_error_itself_is_read_pytorch_97041() -> None:
    report = _doctor(CLASSES / "pytorch-97041-collect-env-2.0.0-cu118-libnvrtc-truncated.txt")
    (finding,) = _by_id(report, "cudnn-load-failed")
    assert "libnvrtc" in finding["title"]


# --- a CUDA build of torch without its nvidia-* wheels ------------------------------------------------


def test_nvidia_wheels_missing_under_poetry_pytorch_100974() -> None:
    report = _doctor(CLASSES / "pytorch-100974-poetry-nvidia-wheels-missing.txt")
    (finding,) = _by_id(report, "nvidia-wheels-missing")
    assert "nvidia-cuda-nvrtc" in json.dumps(finding["evidence"])


# --- the wider library list: a wheel's libcusparse finds an older libnvJitLink first --------------------


def test_libnvjitlink_from_ld_library_path_ragflow_4466() -> None:
    """ldd resolves the wheel's libcusparse's libnvJitLink from /usr/local/cuda-12.1, on LD_LIBRARY_PATH."""
    report = _doctor(CLASSES / "ragflow-4466-libcusparse-nvjitlink-ld-library-path.txt")
    assert report["facts"]["torch"]["status"] == "import-error"
    assert {
        "name": "libnvJitLink",
        "path": "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12",
    } in report["facts"]["torch"]["loaded_libraries"]
    (finding,) = _by_id(report, "ld-library-path-shadowing")
    assert finding["severity"] == "error" and "libnvJitLink" in finding["title"]
    assert "/usr/local/cuda-12.1/lib64" in finding["fix"]
    # the wheel's own directory, beside the libcusparse that failed (pytorch/pytorch#111469's fix)
    assert "site-packages/nvidia/nvjitlink/lib:$LD_LIBRARY_PATH" in finding["fix"]
    # the likely cause, ahead of the import error
    assert _ids(report)[0] == "ld-library-path-shadowing"


def test_libnvjitlink_without_ld_library_path_asks_for_it_pytorch_131312() -> None:
    report = _doctor(CLASSES / "pytorch-131312-libcusparse-nvjitlink-nightly.txt")
    torch = report["facts"]["torch"]
    assert "__nvJitLinkComplete_12_4, version libnvJitLink.so.12" in torch["error"]
    assert {"name": "torch", "version": "2.5.0.dev20240720+cu124"} in [
        {"name": d["name"], "version": d["version"]} for d in torch["distributions"]
    ]  # the grepped `pip list`
    assert report["facts"]["host"]["proc_driver_version"] == "550.90.07"
    (failed,) = _by_id(report, "torch-import-failed")
    assert "echo $LD_LIBRARY_PATH" in failed["fix"]  # what decides it, not a blind reinstall first
    assert _by_id(report, "ld-library-path-shadowing") == []  # LD_LIBRARY_PATH is not in the paste
    (libraries,) = [
        f for f in _by_id(report, "not-in-report") if f["evidence"]["area"] == "libraries"
    ]
    assert "ld-library-path-shadowing" in libraries["evidence"]["checks"]


# --- NVML driver/library mismatch inside an image -----------------------------------------------------


def test_nvml_mismatch_is_read_biop_desktop_27() -> None:
    report = _doctor(CLASSES / "biop-desktop-27-nvml-mismatch-in-image.txt")
    (finding,) = _by_id(report, "nvml-version-mismatch")
    assert finding["evidence"]["nvml_library_version"] == "570.86"


def test_nvml_mismatch_fix_covers_the_image_biop_desktop_27() -> None:
    report = _doctor(CLASSES / "biop-desktop-27-nvml-mismatch-in-image.txt")
    (finding,) = _by_id(report, "nvml-version-mismatch")
    assert "libnvidia" in finding["fix"] and "image" in finding["fix"]


# --- CUDA_VISIBLE_DEVICES set by the script -----------------------------------------------------------


def test_cuda_visible_devices_set_by_the_script_pytorch_80876() -> None:
    report = _doctor(CLASSES / "pytorch-80876-cuda-visible-devices-set-by-script.txt")
    (finding,) = _by_id(report, "cuda-visible-devices")
    assert "unset" not in finding["fix"].lower()
    assert "import torch" in finding["fix"]


# --- torchvision pairing for torch 1.x ----------------------------------------------------------------


def test_no_torchvision_false_alarm_for_torch_1_3_1_pytorch_44303() -> None:
    """torch 1.3.1 with torchvision 0.4.2 is the released pairing; the 2.x rule must not apply."""
    report = _doctor(PASTE / "pytorch-44303-collect-env-1.3.1-indented.txt")
    names = {d["name"]: d["version"] for d in report["facts"]["torch"]["distributions"]}
    assert names == {
        "torch": "1.3.1",
        "torchvision": "0.4.2",
    }  # the pair was read, so it was checked
    assert _by_id(report, "torchvision-mismatch") == []


# --- driver too old -----------------------------------------------------------------------------------


def test_driver_too_old_from_the_warning_yolov5_2389() -> None:
    report = _doctor(CLASSES / "yolov5-2389-driver-too-old-torch-1.7.1.txt")
    torch, driver = report["facts"]["torch"], report["facts"]["driver"]
    found = _by_id(report, "driver-too-old-for-torch")
    # what the finding stands on, shown if it is missing: torch's warning, the typed driver, no build
    assert len(found) == 1, (
        _ids(report),
        torch["driver_api_version"],
        driver["version"],
        torch["cuda_build"],
    )
    (finding,) = found
    assert finding["evidence"]["driver_cuda"] == "10.1"


def test_driver_too_old_from_a_collect_env_lhotse_793() -> None:
    report = _doctor(PASTE / "lhotse-793-collect-env-1.12.1-cu102-driver-too-old.txt")
    (finding,) = _by_id(report, "driver-too-old-for-torch")
    assert finding["severity"] == "error" and finding["evidence"]["minimum_driver"]


# --- conda's pytorch package and its torch dist-info --------------------------------------------------


def test_conda_binary_listed_by_pip_is_one_install_pytorch_52515() -> None:
    report = _doctor(CLASSES / "pytorch-52515-collect-env-1.7.1-conda-binary-truncated.txt")
    assert report["facts"]["torch"]["version"] == "1.7.1"
    assert _by_id(report, "multiple-torch-installs") == []


def test_driver_450_51_05_is_not_too_old_for_a_cuda_11_0_build_pytorch_52515() -> None:
    report = _doctor(CLASSES / "pytorch-52515-collect-env-1.7.1-conda-binary-truncated.txt")
    assert _by_id(report, "driver-too-old-for-torch") == []


def test_conda_pytorch_package_alone_is_one_install_pytorch_33469() -> None:
    report = _doctor(PASTE / "pytorch-33469-collect-env-1.4.0-conda-pytorch.txt")
    assert _by_id(report, "multiple-torch-installs") == []


# --- cuDNN version incompatibility text ---------------------------------------------------------------


def test_cudnn_incompatible_with_ld_library_path_functorch_926() -> None:
    report = _doctor(CLASSES / "functorch-926-cudnn-incompatible-ld-library-path.txt")
    (finding,) = _by_id(report, "cudnn-load-failed")
    assert "(8, 3, 2)" in finding["title"] and "(8, 0, 3)" in finding["title"]
    assert "/public/apps/cudnn/v8.0.3.33-cuda.11.0/cuda/lib64" in finding["fix"]


# --- a collect_env paste and an nvidia-smi paste each give a diagnosis --------------------------------


def test_a_collect_env_paste_gives_a_diagnosis() -> None:
    report = _doctor(PASTE / "pytorch-43058-collect-env-1.6.0-with-nvidia-smi.txt")
    assert report["facts"]["input"]["kinds"]
    assert "driver-too-old-for-torch" in _ids(report)
    assert report["exit_code"] == 1


def test_an_nvidia_smi_paste_gives_a_diagnosis_and_what_to_collect() -> None:
    report = _doctor(PASTE / "gpu-operator-356-nvidia-smi-510.txt")
    assert report["facts"]["input"]["kinds"] == ["nvidia-smi"]
    collect = _by_id(report, "not-in-report")
    assert collect and all(f["fix"].startswith("Collect it:") for f in collect)
    assert any(f["severity"] != "info" for f in report["findings"]) or collect
