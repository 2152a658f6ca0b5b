"""The failure classes doctor missed or misread, each from facts transcribed from a real report."""

from __future__ import annotations

from typing import List

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.model import Distribution, Facts
from gpusetup.facts.paste import read_paste
from gpusetup.profiles.model import Profiles
from tests.conftest import FIXTURES, facts_fixture


def _findings(facts: Facts, profiles: Profiles, fid: str) -> List[Finding]:
    return [f for f in run_checks(Context(facts, profiles)) if f.id == fid]


def test_fabric_manager_behind_the_driver(profiles: Profiles) -> None:
    """NVIDIA/gpu-operator#544: driver 530.41.03, fabric manager 530.30.02, the service fails."""
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.driver.version = "530.41.03"
    fm = facts.host.fabric_manager
    fm.unit_state = "failed"
    fm.log_error = (
        "nv-fabricmanager[3228]: fabric manager NVIDIA GPU driver interface version 530.30.02 don't "
        "match with driver version 530.41.03. Please update with matching NVIDIA driver package."
    )
    facts.torch.cuda_available = False
    facts.torch.init_error = "RuntimeError: Unexpected error from cudaGetDeviceCount(). Error 802: system not yet initialized"
    (finding,) = _findings(facts, profiles, "fabric-manager-version-mismatch")
    assert finding.evidence["fabric_manager_version"] == "530.30.02"
    assert "nvidia-fabricmanager-530=530.41.03-1" in finding.fix
    (init,) = _findings(facts, profiles, "cuda-init-failed")
    assert "fabric-manager-version-mismatch" in init.fix  # not "just start the service"


def test_forward_compat_libcuda_on_geforce(profiles: Profiles) -> None:
    """DeepVAC/TorchPod#43: GTX 1650 on host driver 460.80; nvidia-smi in the container says CUDA 11.3."""
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    gpu = facts.gpus[0]
    gpu.name, gpu.brand = "GeForce GTX 1650", "GeForce"
    facts.gpus = [gpu]
    facts.driver.version, facts.driver.cuda_version = "460.80", "11.3"
    facts.host.container = "docker"
    facts.toolkit.ld_library_path = []
    facts.torch.loaded_libraries = []
    facts.torch.cuda_available = False
    warning = (
        "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions "
        "before calling NumCudaDevices() that might have already set an error? Error 804: forward "
        "compatibility was attempted on non supported HW"
    )
    facts.torch.init_warnings = [warning]
    (finding,) = _findings(facts, profiles, "cuda-compat-libs")
    assert finding.severity.value == "error"
    assert (
        finding.evidence["driver_native_cuda"] == "11.2" and finding.evidence["nvml_cuda"] == "11.3"
    )
    assert (
        finding.evidence["compat_paths"] == []
    )  # the fix names no directory the facts do not show
    assert "ldconfig -p | grep libcuda" in finding.fix
    (init,) = _findings(facts, profiles, "cuda-init-failed")
    assert "cuda-compat-libs" in init.fix and "LD_LIBRARY_PATH" not in init.fix


def test_capabilities_without_compute(profiles: Profiles) -> None:
    """AbdBarho/stable-diffusion-webui-docker#348: nvidia-smi works, torch 'Found no NVIDIA driver'."""
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.container, facts.host.nvidia_visible_devices = "docker", "all"
    facts.host.env.pop("NVIDIA_DRIVER_CAPABILITIES", None)
    facts.torch.cuda_available = False
    facts.torch.init_error = "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver"
    (finding,) = _findings(facts, profiles, "driver-capabilities-no-compute")
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in finding.fix
    facts.host.env["NVIDIA_DRIVER_CAPABILITIES"] = "compute,utility"
    assert _findings(facts, profiles, "driver-capabilities-no-compute") == []


def test_known_broken_torch_2_0_0_cu118(profiles: Profiles) -> None:
    """pytorch/pytorch#97041: 2.0.0+cu118 convolutions abort without libnvrtc.so; fixed in 2.0.1."""
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.torch.version, facts.torch.cuda_build = "2.0.0+cu118", "11.8"
    (finding,) = _findings(facts, profiles, "known-broken-build")
    assert finding.evidence["source"] == "https://github.com/pytorch/pytorch/issues/97041"
    assert "2.0.1" in finding.fix
    facts.torch.version = "2.0.1+cu118"
    assert _findings(facts, profiles, "known-broken-build") == []


def test_nvidia_wheels_left_out_by_the_installer(profiles: Profiles) -> None:
    """pytorch/pytorch#100974: poetry installed torch 2.0.1 without its nvidia-* wheels."""
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.torch.status, facts.torch.version, facts.torch.cuda_build = "import-error", None, None
    facts.torch.error = "ValueError: libnvrtc.so.*[0-9].*[0-9] not found in the system path"
    facts.torch.nvidia_wheels = {}
    facts.torch.distributions = [Distribution("torch", "2.0.1", installer="poetry")]
    (finding,) = _findings(facts, profiles, "nvidia-wheels-missing")
    assert finding.evidence["missing"] == ["nvidia-cuda-nvrtc-cu11"]  # 2.0.1's PyPI build is cu117
    assert "--force-reinstall torch==2.0.1" in finding.fix


def test_conda_pytorch_package_is_one_install(profiles: Profiles) -> None:
    """The pytorch channel's 2.2.0 package puts site-packages/torch-2.2.0-py3.10.egg-info in the env
    (pip's rollback log in a real session lists that path), so the probe sees both names."""
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    prefix = "/root/miniconda3/envs/gaiic2024"
    facts.torch.sys_prefix = prefix
    facts.torch.location = f"{prefix}/lib/python3.10/site-packages/torch/__init__.py"
    facts.torch.distributions = [
        Distribution("torch", "2.2.0", f"{prefix}/lib/python3.10/site-packages", ""),
        Distribution("pytorch", "2.2.0", f"{prefix}/conda-meta", "conda"),
    ]
    assert _findings(facts, profiles, "multiple-torch-installs") == []


def test_conda_pytorch_beside_a_pip_torch_of_another_version(profiles: Profiles) -> None:
    """pytorch/pytorch#28321: conda's pytorch 1.3.0 and a pip torch 1.2.0 in one environment."""
    text = (FIXTURES / "paste" / "pytorch-28321-collect-env-1.3.0-conda-and-pip.txt").read_text()
    (finding,) = _findings(read_paste(text), profiles, "multiple-torch-installs")
    assert "not known" in finding.title


def test_nvml_mismatch_inside_a_container_gets_a_container_fix(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.driver.nvml, facts.host.container = "version-mismatch", "docker"
    (finding,) = _findings(facts, profiles, "nvml-version-mismatch")
    assert "container" in finding.fix and "libnvidia" in finding.fix


def test_cuda_visible_devices_set_by_the_script(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "1"
    (finding,) = _findings(facts, profiles, "cuda-visible-devices")
    assert "os.environ['CUDA_VISIBLE_DEVICES']" in finding.fix


def test_collect_env_paste_gives_a_diagnosis(profiles: Profiles) -> None:
    """lhotse-speech/lhotse#793: torch 1.12.1+cu102; torch found driver API 9010 (CUDA 9.1)."""
    text = (
        FIXTURES / "paste" / "lhotse-793-collect-env-1.12.1-cu102-driver-too-old.txt"
    ).read_text()
    (finding,) = _findings(read_paste(text), profiles, "driver-too-old-for-torch")
    assert finding.severity.value == "error" and finding.evidence["driver_cuda"] == "9.1"


def test_nvidia_smi_paste_gives_a_diagnosis_and_what_to_collect(profiles: Profiles) -> None:
    text = (FIXTURES / "paste" / "pytorch-43058-collect-env-1.6.0-with-nvidia-smi.txt").read_text()
    findings = run_checks(Context(read_paste(text), profiles))
    ids = [f.id for f in findings]
    assert "driver-too-old-for-torch" in ids  # CUDA 10.2 build, driver's CUDA 10.1, no minor compat
    collect = [f.fix for f in findings if f.id == "not-in-report"]
    assert any("nvidia-smi --query-gpu=index,name,compute_cap" in fix for fix in collect)


def test_wsl_paste_does_not_claim_libcuda_is_missing(profiles: Profiles) -> None:
    text = (FIXTURES / "paste" / "vllm-9293-collect-env-2.4.0-cu121-wsl2.txt").read_text()
    assert _findings(read_paste(text), profiles, "wsl-libcuda-missing") == []


def test_markdown_puts_the_specific_cause_before_the_symptom() -> None:
    from gpusetup.cli import app
    from tests.conftest import make_runner

    path = FIXTURES / "paste" / "pytorch-43058-collect-env-1.6.0-with-nvidia-smi.txt"
    result = make_runner().invoke(app, ["doctor", "--facts", str(path), "--markdown"])
    assert result.exit_code == 1
    out = result.stdout
    assert out.index("Likely cause: `driver-too-old-for-torch`") < out.index("cuda-init-failed")
    assert out.index("**Other findings**") < out.index("**What to collect next**")
    assert "Read: nvidia-smi + collect-env paste." in out and "nvidia-smi -q" in out


def test_old_facts_files_without_the_new_fields_still_load(tmp_path: object) -> None:
    import json
    from pathlib import Path

    from gpusetup.doctor.report import load_facts_file

    data = json.loads((FIXTURES / "facts" / "handmade-h100-sxm-cu124.json").read_text())
    facts = data.get("facts", data)
    facts.pop("input", None)
    facts["host"].pop("fabric_manager", None)
    facts["torch"].pop("cudnn_error", None)
    path = Path(str(tmp_path)) / "old.json"
    path.write_text(json.dumps(data))
    loaded = load_facts_file(str(path))
    assert not loaded.input.pasted and loaded.host.fabric_manager.version is None


def test_cudnn_error_text_names_both_versions_and_the_directory(profiles: Profiles) -> None:
    """pytorch/functorch#926: torch 1.12 cu113 built with cuDNN 8.3.2, LD_LIBRARY_PATH has 8.0.3."""
    from gpusetup.facts.model import LibraryDir

    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.torch.cudnn_error = (
        "RuntimeError: cuDNN version incompatibility: PyTorch was compiled against (8, 3, 2) but "
        "linked against (8, 0, 3)"
    )
    lib64 = "/public/apps/cudnn/v8.0.3.33-cuda.11.0/cuda/lib64"
    facts.toolkit.ld_library_path = [LibraryDir(lib64, ["libcudnn.so.8"])]
    (finding,) = _findings(facts, profiles, "cudnn-load-failed")
    assert "(8, 3, 2)" in finding.title and "(8, 0, 3)" in finding.title and lib64 in finding.fix


def test_cudnn_error_in_a_paste_is_read(profiles: Profiles) -> None:
    """RaleLee/Co-GAT#2: the error as printed by torch 1.13-era builds (two spaces after 'compiled')."""
    text = (
        "Exception has occurred: RuntimeError\n"
        "cuDNN version incompatibility: PyTorch was compiled  against (8, 5, 0) but found runtime version "
        "(8, 3, 3). PyTorch already comes bundled with cuDNN. One option to resolving this error is to "
        "ensure PyTorch can find the bundled cuDNN.\n"
        "PyTorch version: 1.13.1+cu117\n"
    )
    (finding,) = _findings(read_paste(text), profiles, "cudnn-load-failed")
    assert "(8, 5, 0)" in finding.title and "(8, 3, 3)" in finding.title


def test_forward_compat_on_a_datacenter_gpu_is_not_flagged(profiles: Profiles) -> None:
    """cuda-compat is supported on datacenter GPUs: NVML above the native CUDA is then by design."""
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.driver.version, facts.driver.cuda_version = "470.103.01", "12.2"
    facts.toolkit.ld_library_path, facts.torch.loaded_libraries = [], []
    assert _findings(facts, profiles, "cuda-compat-libs") == []
