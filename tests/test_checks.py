"""Every finding id, triggered from a healthy machine by the one fact that breaks it."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import pytest

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Severity
from gpusetup.doctor.registry import all_ids, run_checks
from gpusetup.facts.model import Facts, GpuProcess, LibraryDir, LoadedLibrary, NvccFacts, TorchFacts
from gpusetup.profiles.model import Profiles
from tests.conftest import FACT_FILES, facts_fixture

Mutation = Callable[[Facts], None]


def _no_nvml(status: str, error: str = "") -> Mutation:
    def apply(f: Facts) -> None:
        f.driver.nvml, f.driver.nvml_error, f.driver.version, f.driver.cuda_version = (
            status,
            error,
            None,
            None,
        )
        f.gpus = []

    return apply


def _no_gpu_at_all(f: Facts) -> None:
    _no_nvml("library-not-found")(f)
    f.host.proc_driver_version = f.host.nvidia_module_version = None
    f.host.nvidia_pci_devices, f.host.dev_nvidia = 0, []


def _gpu_but_no_driver(f: Facts) -> None:
    _no_gpu_at_all(f)
    f.host.nvidia_pci_devices = 2


def _module_without_library(f: Facts) -> None:
    _no_nvml("library-not-found")(f)


def _wsl_with_linux_driver(f: Facts) -> None:
    f.host.is_wsl, f.host.wsl_libcuda = True, "/usr/lib/wsl/lib/libcuda.so.1"
    f.host.linux_driver_in_wsl = ["/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"]


def _wsl_without_windows_driver(f: Facts) -> None:
    f.host.is_wsl, f.host.wsl_libcuda = True, None


def _container_without_runtime(f: Facts) -> None:
    _no_nvml("library-not-found")(f)
    f.host.container, f.host.dev_nvidia = "docker", []


def _small_shm(f: Facts) -> None:
    f.host.container, f.host.shm_bytes = "docker", 64 * 2**20


def _gpu(**values: object) -> Mutation:
    def apply(f: Facts) -> None:
        for key, value in values.items():
            setattr(f.gpus[0], key, value)

    return apply


def _torch(**values: object) -> Mutation:
    def apply(f: Facts) -> None:
        for key, value in values.items():
            setattr(f.torch, key, value)

    return apply


def _numpy2_beside_torch_2_2(f: Facts) -> None:
    f.torch.version, f.torch.numpy_status = "2.2.2+cu121", "broken"
    f.torch.numpy_version, f.torch.numpy_error = "2.1.3", "RuntimeError: Numpy is not available"


def _old_driver(f: Facts) -> None:
    f.driver.version, f.driver.cuda_version = "470.256.02", "11.4"


def _driver_one_minor_behind(f: Facts) -> None:
    f.driver.version, f.driver.cuda_version = "545.23.08", "12.3"


def _blackwell(f: Facts) -> None:
    f.gpus[0].name, f.gpus[0].compute_capability = "NVIDIA GeForce RTX 5090", "12.0"


def _two_torches(f: Facts) -> None:
    f.torch.distributions.append(
        f.torch.distributions[0].__class__(
            "torch", "2.3.0", "/root/.local/lib/python3.11/site-packages", "pip"
        )
    )


def _env(**values: str) -> Mutation:
    def apply(f: Facts) -> None:
        f.host.env.update(values)

    return apply


def _shadowing(f: Facts) -> None:
    f.toolkit.ld_library_path = [
        LibraryDir("/usr/local/cuda-12.1/lib64", ["libcublas.so.12", "libnvJitLink.so.12"])
    ]
    f.torch.loaded_libraries.append(
        LoadedLibrary("libnvJitLink", "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12")
    )


def _compat(f: Facts) -> None:
    f.toolkit.ld_library_path = [LibraryDir("/usr/local/cuda/compat", ["libcuda.so.1"])]


def _toolkit_11(f: Facts) -> None:
    f.toolkit.nvcc = [NvccFacts("/usr/local/cuda-12.4/bin/nvcc", "11.8", "CUDA_HOME")]


def _cuda_home_nowhere(f: Facts) -> None:
    f.toolkit.cuda_home, f.toolkit.cuda_home_via, f.toolkit.cuda_home_exists = (
        "/opt/cuda-gone",
        "CUDA_HOME",
        False,
    )


def _toolkit_newer(f: Facts) -> None:
    f.toolkit.nvcc = [NvccFacts("/usr/local/cuda-12.4/bin/nvcc", "12.6", "CUDA_HOME")]


def _mixed_gpus(f: Facts) -> None:
    second = facts_fixture("handmade-rtx4090-workstation.json").gpus[0]
    second.index = 1
    f.gpus.append(second)


def _secure_boot_no_module(f: Facts) -> None:
    _gpu_but_no_driver(f)
    f.host.secure_boot = True


def _cudnn8_on_path(f: Facts) -> None:
    f.toolkit.cudnn_version = "8.9.7"
    f.toolkit.ld_library_path = [LibraryDir("/usr/lib/cudnn8", ["libcudnn.so.8"])]


def _second_gpu_invisible_to_torch(f: Facts) -> None:
    _mixed_gpus(f)  # NVML sees two GPUs; the probe reported only the H100


def _fm_behind(f: Facts) -> None:
    f.host.fabric_manager.unit_state, f.host.fabric_manager.version = "failed", "550.54.14"


def _caps_utility_only(f: Facts) -> None:
    f.host.container, f.host.env["NVIDIA_DRIVER_CAPABILITIES"] = "docker", "utility"
    f.torch.cuda_available = False  # without compute no libcuda: CUDA cannot have worked


def _pasted_nvidia_smi(f: Facts) -> None:
    f.input.kinds, f.input.unstated = ["nvidia-smi"], ["torch"]


def _split_build_without_cudnn(f: Facts) -> None:
    del f.torch.nvidia_wheels["nvidia-cudnn-cu12"]


# id -> (mutation, expected severity)
CASES: Dict[str, List[tuple[Mutation, Severity]]] = {
    # A fact, not a problem: the h100 fixture's torch is a CUDA build (a warning); a CPU build is info.
    "no-nvidia-gpu": [
        (_no_gpu_at_all, Severity.WARNING),
        (lambda f: (_no_gpu_at_all(f), _torch(cuda_build=None)(f)), Severity.INFO),
    ],
    "no-nvidia-driver": [
        (_gpu_but_no_driver, Severity.ERROR),
        (_module_without_library, Severity.ERROR),
    ],
    "driver-not-loaded": [(_no_nvml("driver-not-loaded", "Driver Not Loaded"), Severity.ERROR)],
    "secure-boot-blocks-driver": [(_secure_boot_no_module, Severity.ERROR)],
    "cudnn-version-mix": [(_cudnn8_on_path, Severity.WARNING)],
    "nouveau-loaded": [(lambda f: setattr(f.host, "nouveau_loaded", True), Severity.ERROR)],
    "nvml-version-mismatch": [
        (
            _no_nvml("version-mismatch", "RM has detected an NVML/RM version mismatch."),
            Severity.ERROR,
        )
    ],
    "nvml-no-permission": [(_no_nvml("no-permission", "Insufficient Permissions"), Severity.ERROR)],
    "nvml-unknown-error": [
        (
            lambda f: (
                _no_nvml("unknown", "Unknown Error")(f),
                setattr(f.host, "container", "docker"),
            ),
            Severity.ERROR,
        )
    ],
    "gpu-lost": [
        (_no_nvml("gpu-lost", "GPU is lost"), Severity.ERROR),
        (_gpu(error="GPU is lost"), Severity.ERROR),
    ],
    "wsl-driver-inside": [(_wsl_with_linux_driver, Severity.ERROR)],
    "wsl-libcuda-missing": [(_wsl_without_windows_driver, Severity.ERROR)],
    "container-no-gpu-runtime": [(_container_without_runtime, Severity.ERROR)],
    "shm-too-small": [(_small_shm, Severity.WARNING)],
    "fabric-manager-inactive": [(_gpu(fabric_state="not-started"), Severity.ERROR)],
    "persistence-mode-off": [(_gpu(persistence_mode=False), Severity.INFO)],
    "ecc-errors": [
        (_gpu(ecc_uncorrected_volatile=3), Severity.ERROR),
        (_gpu(ecc_uncorrected_aggregate=1), Severity.WARNING),
    ],
    "row-remap-pending": [
        (_gpu(remapped_rows_pending=True), Severity.ERROR),
        (_gpu(retired_pages_pending=True), Severity.ERROR),
    ],
    "row-remap-failed": [(_gpu(remapped_rows_failure=True), Severity.ERROR)],
    "gpu-throttled": [
        (_gpu(clocks_event_reasons=0x40), Severity.WARNING),
        (_gpu(clocks_event_reasons=0x80 | 0x1), Severity.WARNING),
    ],
    "pcie-link-degraded": [
        (_gpu(pcie_width_current=8), Severity.WARNING),
        (_gpu(pcie_gen_current=1, clocks_event_reasons=0x0), Severity.WARNING),
    ],
    "mig-enabled": [(_gpu(mig_enabled=True), Severity.WARNING)],
    "gpu-memory-in-use": [
        (
            _gpu(memory_used_mib=70000, processes=[GpuProcess(4242, 69000, "python")]),
            Severity.WARNING,
        )
    ],
    "compute-mode-exclusive": [
        (_gpu(compute_mode="exclusive-process"), Severity.WARNING),
        (_gpu(compute_mode="prohibited"), Severity.ERROR),
    ],
    "power-capped": [(_gpu(power_limit_w=400.0), Severity.WARNING)],
    "gpu-temperature-high": [(_gpu(temperature_c=84), Severity.WARNING)],
    "probe-failed": [
        (_torch(status="timeout", error="hung"), Severity.ERROR),
        (_torch(status="bad-output"), Severity.ERROR),
    ],
    "torch-missing": [
        (
            lambda f: setattr(
                f, "torch", TorchFacts(status="missing", python="/opt/venv/bin/python")
            ),
            Severity.ERROR,
        )
    ],
    "torch-import-failed": [
        (
            _torch(
                status="import-error",
                error="ImportError: libcudnn.so.9: cannot open shared object file",
            ),
            Severity.ERROR,
        )
    ],
    "torch-cpu-build": [
        (
            _torch(version="2.4.1+cpu", cuda_build=None, arch_list=[], cuda_available=False),
            Severity.ERROR,
        )
    ],
    "driver-too-old-for-torch": [
        (_old_driver, Severity.ERROR),
        (_driver_one_minor_behind, Severity.WARNING),
    ],
    "arch-not-in-build": [(_blackwell, Severity.ERROR)],
    "cuda-init-failed": [
        (
            _torch(cuda_available=False, init_error="RuntimeError: CUDA unknown error"),
            Severity.ERROR,
        )
    ],
    "cudnn-unavailable": [(_torch(cudnn_available=False), Severity.WARNING)],
    "torchvision-mismatch": [
        (
            _torch(torchvision_error="RuntimeError: operator torchvision::nms does not exist"),
            Severity.ERROR,
        ),
        (_torch(torchvision_version="0.20.1+cu124"), Severity.ERROR),
        (_torch(torchvision_version="0.19.1+cu121"), Severity.ERROR),
    ],
    "torchaudio-mismatch": [(_torch(torchaudio_version="2.3.0+cu124"), Severity.ERROR)],
    "multiple-torch-installs": [
        (_two_torches, Severity.WARNING),
        (
            _torch(location="/root/.local/lib/python3.11/site-packages/torch/__init__.py"),
            Severity.WARNING,
        ),
    ],
    "cuda-visible-devices": [
        (_env(CUDA_VISIBLE_DEVICES=""), Severity.ERROR),
        (_env(CUDA_VISIBLE_DEVICES="3"), Severity.ERROR),
        (_env(CUDA_VISIBLE_DEVICES="0,0"), Severity.ERROR),
        (_env(CUDA_VISIBLE_DEVICES="GPU-ffff"), Severity.ERROR),
        (lambda f: (_mixed_gpus(f), _env(CUDA_VISIBLE_DEVICES="1")(f)), Severity.INFO),
        (lambda f: (_mixed_gpus(f), _env(CUDA_VISIBLE_DEVICES="0,5")(f)), Severity.WARNING),
    ],
    "device-order-differs": [(_mixed_gpus, Severity.INFO)],
    "cuda-device-missing": [(_second_gpu_invisible_to_torch, Severity.ERROR)],
    "mode-change-pending": [
        (_gpu(ecc_pending=False), Severity.INFO),
        (_gpu(mig_pending=True), Severity.INFO),
    ],
    "ld-library-path-shadowing": [(_shadowing, Severity.ERROR)],
    "cuda-compat-libs": [(_compat, Severity.WARNING)],
    "toolkit-torch-mismatch": [(_toolkit_11, Severity.WARNING)],
    "cuda-home-missing": [(_cuda_home_nowhere, Severity.WARNING)],
    "toolkit-newer-than-driver": [(_toolkit_newer, Severity.WARNING)],
    "numpy-missing": [
        (_torch(numpy_status="missing", numpy_version=None), Severity.INFO),
        (
            _torch(numpy_status="missing", numpy_version=None, numpy_required_by=["torchvision"]),
            Severity.WARNING,
        ),
    ],
    "fewer-gpus-than-expected": [(lambda f: f.gpus.clear(), Severity.ERROR)],
    "fabric-manager-version-mismatch": [(_fm_behind, Severity.ERROR)],
    "fabric-manager-failed": [
        (lambda f: setattr(f.host.fabric_manager, "unit_state", "failed"), Severity.ERROR)
    ],
    "driver-capabilities-no-compute": [(_caps_utility_only, Severity.ERROR)],
    "not-in-report": [(_pasted_nvidia_smi, Severity.INFO)],
    "known-broken-build": [(_torch(version="2.0.0+cu118", cuda_build="11.8"), Severity.ERROR)],
    "nvidia-wheels-missing": [(_split_build_without_cudnn, Severity.ERROR)],
    "cudnn-load-failed": [(_torch(cudnn_error="RuntimeError: cuDNN failed"), Severity.ERROR)],
    "numpy-incompatible": [
        (_numpy2_beside_torch_2_2, Severity.ERROR),
        (
            _torch(numpy_status="broken", numpy_error="ImportError: numpy.core.multiarray failed"),
            Severity.ERROR,
        ),
    ],
}


def _params() -> list[object]:
    return [
        pytest.param(fid, mut, sev, id=f"{fid}-{i}")
        for fid, cases in CASES.items()
        for i, (mut, sev) in enumerate(cases)
    ]


def test_every_registered_id_has_a_case() -> None:
    from tests.test_checks_pytorch2 import CASES as PYTORCH2_CASES  # its own facts: compile ones

    assert set(CASES) | set(PYTORCH2_CASES) == set(all_ids())


def test_healthy_machine_has_no_findings(h100: Facts, profiles: Profiles) -> None:
    assert run_checks(Context(h100, profiles)) == []


@pytest.mark.parametrize(("finding_id", "mutate", "severity"), _params())
def test_mutation_triggers_finding(
    finding_id: str, mutate: Mutation, severity: Severity, h100: Facts, profiles: Profiles
) -> None:
    mutate(h100)
    expect = 1 if finding_id == "fewer-gpus-than-expected" else None  # the fixture's one GPU
    found = [f for f in run_checks(Context(h100, profiles, expect)) if f.id == finding_id]
    assert found, f"{finding_id} not reported"
    assert found[0].severity == severity
    assert found[0].fix and found[0].title and "\n" not in found[0].title


def test_torch_missing_in_gpusetups_own_tool_env_points_at_python(
    h100: Facts, profiles: Profiles
) -> None:
    h100.torch = TorchFacts(
        status="missing", python="/home/me/.local/share/pipx/venvs/gpusetup/bin/python"
    )
    (finding,) = [f for f in run_checks(Context(h100, profiles)) if f.id == "torch-missing"]
    assert "gpusetup doctor --python" in finding.fix


def test_ignore_drops_a_finding(h100: Facts, profiles: Profiles) -> None:
    _blackwell(h100)
    assert [f.id for f in run_checks(Context(h100, profiles), ignore=["arch-not-in-build"])] == []


def test_errors_sort_before_warnings(h100: Facts, profiles: Profiles) -> None:
    _gpu(power_limit_w=400.0)(h100)
    _blackwell(h100)
    severities = [f.severity for f in run_checks(Context(h100, profiles))]
    assert severities == sorted(severities, key=lambda s: s.rank)


def test_idle_gpu_link_generation_is_not_judged(h100: Facts, profiles: Profiles) -> None:
    _gpu(pcie_gen_current=1, clocks_event_reasons=0x1)(h100)
    assert run_checks(Context(h100, profiles)) == []


def test_consumer_gpu_with_compat_libcuda_is_an_error(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    _compat(facts)
    (finding,) = [f for f in run_checks(Context(facts, profiles)) if f.id == "cuda-compat-libs"]
    assert finding.severity == Severity.ERROR


def test_driver_floor_comes_from_profiles(h100: Facts, profiles: Profiles) -> None:
    """cu124 needs the 12.x minor-compat floor 525.60.13: 525.60.12 fails, 525.60.13 runs (warned)."""
    h100.driver.cuda_version = None
    h100.driver.version = "525.60.12"
    ids = {f.id: f.severity for f in run_checks(Context(h100, profiles))}
    assert ids["driver-too-old-for-torch"] == Severity.ERROR
    h100.driver.version = "525.60.13"
    ids = {f.id: f.severity for f in run_checks(Context(h100, profiles))}
    assert ids["driver-too-old-for-torch"] == Severity.WARNING


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda p: p.name)
def test_every_fixture_diagnoses_without_crashing(path: object, profiles: Profiles) -> None:
    facts = facts_fixture(path.name)  # type: ignore[attr-defined]
    for finding in run_checks(Context(facts, profiles)):
        assert finding.id in all_ids()


@pytest.mark.parametrize(
    ("torch_version", "status", "wanted"),
    [
        ("2.2.2+cu121", "broken", 'pip install "numpy<2"'),  # built for NumPy 1.x: pin numpy
        (
            "2.2.2+cu121",
            "missing",
            'pip install "numpy<2"',
        ),  # do not install a NumPy 2 it can't use
        ("2.4.1+cu124", "missing", "pip install numpy"),
        ("2.4.1+cu124", "broken", "pip install --force-reinstall numpy"),  # numpy itself is broken
    ],
)
def test_numpy_fix_follows_the_torch_release(
    torch_version: str, status: str, wanted: str, h100: Facts, profiles: Profiles
) -> None:
    h100.torch.version, h100.torch.numpy_status = torch_version, status
    (found,) = [f for f in run_checks(Context(h100, profiles)) if f.id.startswith("numpy-")]
    assert found.fix.startswith(f"/opt/venv/bin/python -m {wanted}")
    if torch_version.startswith("2.2") and status == "broken":
        assert "torch >= 2.3.0" in found.fix and found.evidence["source"].startswith("https://")


def _pair(
    torch: str, vision: Optional[str], vision_req: Optional[str], audio: Optional[str] = None
) -> Mutation:
    def apply(f: Facts) -> None:
        f.torch.version, f.torch.torchvision_version = torch, vision
        f.torch.torchvision_requires_torch, f.torch.torchaudio_version = vision_req, audio
        f.torch.torchaudio_requires_torch = None

    return apply


@pytest.mark.parametrize(
    ("mutation", "vision_bad", "audio_bad"),
    [
        # torchvision's own requirement decides: a lower bound admits newer torch (no minor + 15)
        (_pair("2.15.0+cu132", "0.29.1+cu132", ">=2.14.0"), False, False),
        (_pair("2.14.1+cu130", "0.29.0+cu130", "==2.14.0"), True, False),
        # torch 1.x: torchvision 0.14.1 declares torch==1.13.1
        (_pair("1.13.1+cu117", "0.14.1+cu117", "==1.13.1"), False, False),
        (_pair("1.13.1+cu117", "0.14.1+cu117", "==1.13.0"), True, False),
        # no requirement in the facts: companion_releases (0.28.0 declares torch==2.13.0)
        (_pair("2.14.1+cu130", "0.28.0+cu130", None), True, False),
        # torchaudio 2.11.1 declares torch>=2.11; 2.3.0 declares torch==2.3.0
        (_pair("2.15.0+cu132", None, None, "2.11.1"), False, False),
        (_pair("2.4.1+cu121", None, None, "2.3.0+cu121"), False, True),
        # a torchvision the profiles do not know and that declares nothing: no guess
        (_pair("2.15.0+cu132", "0.99.0+cu132", None), False, False),
    ],
)
def test_companion_pairing_reads_the_companions_requirements(
    h100: Facts, profiles: Profiles, mutation: Mutation, vision_bad: bool, audio_bad: bool
) -> None:
    mutation(h100)
    ids = {f.id for f in run_checks(Context(h100, profiles))}
    assert ("torchvision-mismatch" in ids) is vision_bad
    assert ("torchaudio-mismatch" in ids) is audio_bad
