"""The facts gpusetup collects, as plain dataclasses that round-trip through JSON.

None means "not known"; a per-GPU field that the GPU or driver does not support is None and is
named, with the reason, in that GPU's `unsupported` map. Nothing here judges a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from gpusetup.facts.status import NumpyStatus, NvmlStatus, ProbeStatus
from gpusetup.plumbing.codec import TextEnum

# Schema rules: a new field always has a default, so files of an older gpusetup.facts/1 still load;
# renaming or removing a field, or changing what a field means, bumps the number.
FACTS_SCHEMA = "gpusetup.facts/1"


class InputKind(TextEnum):
    """What doctor read its facts from."""

    DOCTOR = "doctor"  # collected by gpusetup itself (or replayed from doctor --json)
    COLLECT_ENV = "collect-env"  # a pasted python -m torch.utils.collect_env
    NVIDIA_SMI = "nvidia-smi"  # a pasted nvidia-smi table
    NVIDIA_SMI_Q = "nvidia-smi-q"  # a pasted nvidia-smi -q
    NVIDIA_SMI_L = "nvidia-smi-l"  # a pasted nvidia-smi -L (GPU names and UUIDs only)
    ERROR_TEXT = (
        "error-text"  # pasted error/log lines only (journal, dmesg, torch errors), no report
    )


class Unstated(TextEnum):
    """An area of facts a pasted report does not state: unknown, never assumed healthy."""

    TORCH = "torch"  # the torch stack of the interpreter
    DRIVER = "driver"  # driver version and the CUDA it supports
    GPU_HEALTH = "gpu-health"  # ECC, retired pages, remapped rows, clocks, PCIe, power, fabric
    GPU_ARCH = "gpu-arch"  # compute capability of each GPU
    HOST = "host"  # container, WSL, kernel modules, environment variables
    LIBRARIES = "libraries"  # LD_LIBRARY_PATH and the CUDA libraries torch loaded
    TOOLKIT = "toolkit"  # CUDA toolkit on disk (nvcc, CUDA_HOME)
    PACKAGES = "packages"  # torch-family and nvidia-* packages installed


@dataclass
class InputFacts:
    """Where the facts came from, what the input did not state, and what of it was not read."""

    kinds: List[str] = field(default_factory=lambda: [InputKind.DOCTOR.value])
    unstated: List[str] = field(default_factory=list)  # Unstated values
    skipped: List[str] = field(default_factory=list)  # parts of the input that were not read

    def __post_init__(self) -> None:
        known_kinds, known_areas = {k.value for k in InputKind}, {u.value for u in Unstated}
        for kind in self.kinds:
            if kind not in known_kinds:
                raise ValueError(f"kinds: unknown input kind {kind!r}")
        for area in self.unstated:
            if area not in known_areas:
                raise ValueError(f"unstated: unknown area {area!r}")

    @property
    def pasted(self) -> bool:
        return self.kinds != [InputKind.DOCTOR.value]


@dataclass
class FabricManagerFacts:
    """The NVSwitch fabric manager service: systemd state, its version, its last error."""

    unit_state: Optional[str] = None  # systemd ActiveState (active, failed, inactive); None: unread
    version: Optional[str] = None  # nv-fabricmanager --version
    log_error: str = ""  # the last error line of its log, where readable


@dataclass
class HostFacts:
    """The operating system around the driver: kernel, distro, WSL, containers, modules."""

    hostname: str = ""
    os: str = ""
    kernel: str = ""
    machine: str = ""  # x86_64, aarch64
    distro: str = ""
    python: str = ""  # the interpreter running gpusetup
    is_wsl: bool = False
    wsl_libcuda: Optional[str] = None  # /usr/lib/wsl/lib/libcuda.so.1 when present
    linux_driver_in_wsl: List[str] = field(
        default_factory=list
    )  # libnvidia-ml copies a Linux driver left
    container: str = ""  # docker, podman, kubernetes, container, or "" on bare metal / VM
    dev_nvidia: List[str] = field(default_factory=list)  # /dev/nvidia* nodes present
    nvidia_visible_devices: Optional[str] = None  # set by the NVIDIA container runtime
    shm_bytes: Optional[int] = None
    nouveau_loaded: bool = False
    nvidia_module_version: Optional[str] = None  # /sys/module/nvidia/version
    proc_driver_version: Optional[str] = (
        None  # kernel module version from /proc/driver/nvidia/version
    )
    nvidia_pci_devices: Optional[int] = None  # PCI functions with vendor 0x10de and a display class
    nvswitch_count: int = 0  # NVSwitch PCI functions (HGX/DGX): fabric manager needed
    secure_boot: Optional[bool] = None  # UEFI Secure Boot state (unsigned modules will not load)
    env: Dict[str, str] = field(default_factory=dict)  # the environment variables that matter
    # variables the user's own script or command line sets (os.environ[...] = ..., docker -e):
    # a fix must change the script, not tell the user to unset them in the shell
    env_set_by_script: List[str] = field(default_factory=list)
    fabric_manager: FabricManagerFacts = field(default_factory=FabricManagerFacts)
    container_toolkit_version: Optional[str] = None  # nvidia-container-cli / nvidia-ctk --version


@dataclass
class DriverFacts:
    """What NVML says about the driver, or why NVML could not start."""

    nvml: NvmlStatus = NvmlStatus.OK
    nvml_error: str = ""
    version: Optional[str] = None  # 535.104.05
    cuda_version: Optional[str] = None  # the newest CUDA the driver supports: 12.2
    nvml_version: Optional[str] = None
    nvml_library: Optional[str] = None  # realpath of the libnvidia-ml.so.1 that loaded


@dataclass
class GpuProcess:
    pid: int
    used_mib: Optional[int] = None
    name: str = ""


@dataclass
class GpuFacts:
    """One GPU as NVML sees it (NVML numbers GPUs in PCI bus order)."""

    index: int
    name: str = ""
    uuid: str = ""
    pci_bus_id: str = ""
    brand: Optional[str] = None
    compute_capability: Optional[str] = None  # 9.0
    memory_total_mib: Optional[int] = None
    memory_used_mib: Optional[int] = None
    ecc_enabled: Optional[bool] = None
    ecc_pending: Optional[bool] = None
    ecc_uncorrected_volatile: Optional[int] = None
    ecc_uncorrected_aggregate: Optional[int] = None
    retired_pages_dbe: Optional[int] = None
    retired_pages_pending: Optional[bool] = None
    remapped_rows_uncorrectable: Optional[int] = None
    remapped_rows_pending: Optional[bool] = None
    remapped_rows_failure: Optional[bool] = None
    clocks_event_reasons: Optional[int] = None  # the NVML bit mask
    sm_clock_mhz: Optional[int] = None
    sm_clock_max_mhz: Optional[int] = None
    pcie_gen_current: Optional[int] = None
    pcie_gen_max: Optional[int] = None
    pcie_width_current: Optional[int] = None
    pcie_width_max: Optional[int] = None
    persistence_mode: Optional[bool] = None
    mig_enabled: Optional[bool] = None
    mig_pending: Optional[bool] = None
    compute_mode: Optional[str] = None  # default, exclusive-process, prohibited
    temperature_c: Optional[int] = None
    temperature_slowdown_c: Optional[int] = None
    power_draw_w: Optional[float] = None
    power_limit_w: Optional[float] = None  # enforced
    power_default_limit_w: Optional[float] = None
    fabric_state: Optional[str] = None  # not-supported, not-started, in-progress, completed
    processes: List[GpuProcess] = field(default_factory=list)
    unsupported: Dict[str, str] = field(default_factory=dict)  # field -> NVML reason
    error: str = ""  # set when the GPU could not be read at all (lost, no handle)


@dataclass
class Telemetry:
    """What NVML saw of one GPU while a benchmark ran (sampled, so worst cases are kept)."""

    pci_bus_id: str
    samples: int = 0
    sm_clock_mhz: List[int] = field(default_factory=list)
    power_w: List[float] = field(default_factory=list)
    temperature_c: List[int] = field(default_factory=list)
    reasons: int = 0  # every clocks-event reason seen, OR-ed together
    pcie_gen_max_seen: Optional[int] = None
    pcie_width_min_seen: Optional[int] = None
    power_limit_w: Optional[float] = None
    power_default_limit_w: Optional[float] = None


# NVML clocks-event reason bits (nvml.h nvmlClocksEventReason*).
CLOCK_REASONS: Dict[int, str] = {
    0x1: "GpuIdle",
    0x2: "ApplicationsClocksSetting",
    0x4: "SwPowerCap",
    0x8: "HwSlowdown",
    0x10: "SyncBoost",
    0x20: "SwThermalSlowdown",
    0x40: "HwThermalSlowdown",
    0x80: "HwPowerBrakeSlowdown",
    0x100: "DisplayClockSetting",
}


def reason_names(mask: int) -> List[str]:
    """The names of the set bits, for people: NVML reports one OR-ed mask."""
    return [name for bit, name in CLOCK_REASONS.items() if mask & bit]


@dataclass
class NvccFacts:
    path: str
    version: Optional[str] = None  # release 12.1
    found_via: str = ""  # PATH, CUDA_HOME, CUDA_PATH, /usr/local/cuda-12.1


@dataclass
class LibraryDir:
    """An LD_LIBRARY_PATH entry and the CUDA libraries it holds."""

    path: str
    libraries: List[str] = field(default_factory=list)


@dataclass
class ToolkitFacts:
    """The CUDA toolkit and libraries installed on the system, outside any Python environment."""

    nvcc: List[NvccFacts] = field(default_factory=list)
    cuda_home: Optional[str] = None  # what torch.utils.cpp_extension would pick
    cuda_home_via: str = ""  # CUDA_HOME, CUDA_PATH, nvcc, /usr/local/cuda
    cuda_home_exists: Optional[bool] = None
    cudnn_version: Optional[str] = None
    cudnn_location: Optional[str] = None
    ld_library_path: List[LibraryDir] = field(default_factory=list)


@dataclass
class TorchDevice:
    index: int
    name: str = ""
    capability: str = ""  # 8.6
    pci_bus_id: str = ""
    uuid: str = ""
    total_memory_mib: Optional[int] = None


@dataclass
class Distribution:
    name: str
    version: str
    location: str = ""
    installer: str = ""  # pip, conda, uv (from the dist-info INSTALLER file)


@dataclass
class LoadedLibrary:
    name: str  # libcudart, libcudnn ...
    path: str


@dataclass
class CompilerFacts:
    """One compiler as torch's or Triton's own rule picks it, and whether `NAME --version` runs."""

    name: str = ""  # what the rule picked ("g++", $CXX, $CC, a which() result); "" when none
    via: str = ""  # CXX, CC, default, gcc, clang, conda (TORCH_INDUCTOR_INSTALL_GXX), "" when none
    path: Optional[str] = None  # shutil.which(name)
    runs: Optional[bool] = None  # `name --version` exited 0
    version: str = ""  # the first line of --version
    error: str = ""  # why it did not run


@dataclass
class CacheDirFacts:
    """A compile cache directory (Inductor's or Triton's) and whether kernels can be built there."""

    kind: str  # inductor, triton
    path: str
    via: str = ""  # TORCHINDUCTOR_CACHE_DIR, TRITON_CACHE_DIR, TRITON_HOME, default
    exists: bool = False
    writable: Optional[bool] = (
        None  # a file could be created (or, when missing, its parent allows it)
    )
    error: str = ""
    mount_point: str = ""
    noexec: bool = False  # the mount forbids mapping the built .so files


@dataclass
class CompileFacts:
    """What torch.compile needs beyond `import torch`, read in the target interpreter by the probe."""

    inductor_cxx: CompilerFacts = field(
        default_factory=CompilerFacts
    )  # Inductor's CPU C++ compiler
    triton_cc: CompilerFacts = field(default_factory=CompilerFacts)  # Triton's launcher C compiler
    python_include: str = ""  # sysconfig's include dir (Triton's scheme rule)
    python_h: Optional[bool] = None
    triton_requires: List[str] = field(
        default_factory=list
    )  # torch's Requires-Dist on (pytorch-)triton
    triton_importable: Optional[bool] = None  # None: not tried (not a Linux CUDA build)
    triton_version: Optional[str] = None
    triton_error: str = ""
    libcuda_via: str = ""  # TRITON_LIBCUDA_PATH, ldconfig, LD_LIBRARY_PATH, "" when none found
    libcuda_dirs: List[str] = field(default_factory=list)  # what Triton's libcuda_dirs() returns
    libcuda_error: str = ""  # Triton's own assertion text, or why ldconfig could not run
    libcuda_unversioned: List[str] = field(default_factory=list)  # libcuda.so the linker can use
    caches: List[CacheDirFacts] = field(default_factory=list)
    flash_attention_built: Optional[bool] = (
        None  # torch.backends.cuda.is_flash_attention_available()
    )
    error: str = ""  # the compile probe itself failed (the facts above are then partial)
    seconds: Optional[float] = None


@dataclass
class TorchFacts:
    """The torch stack of the target interpreter, as its own probe subprocess saw it."""

    status: ProbeStatus = ProbeStatus.OK
    error: str = ""
    python: str = ""  # the target interpreter
    # why it was chosen (gpusetup.facts.target.TargetReason): option, virtual-env, conda, tool-env, self
    python_reason: str = ""
    python_reason_detail: str = ""  # the --python value, the variable's value or the tool
    python_version: str = ""
    sys_prefix: str = ""
    conda_env: bool = False
    version: Optional[str] = None  # 2.4.1+cu121
    location: Optional[str] = None  # torch.__file__
    cuda_build: Optional[str] = None  # torch.version.cuda; None for a CPU build
    hip_build: Optional[str] = None
    cudnn_version: Optional[int] = None
    cudnn_available: Optional[bool] = None
    cudnn_enabled: Optional[bool] = None
    cudnn_error: str = ""  # what torch.backends.cudnn raised ("cuDNN version incompatibility ...")
    driver_api_version: Optional[int] = None  # the CUDA driver API torch found: 11040 = 11.4
    nccl_version: Optional[str] = None
    arch_list: List[str] = field(default_factory=list)
    cuda_available: Optional[bool] = None
    device_count: Optional[int] = None
    devices: List[TorchDevice] = field(default_factory=list)
    init_warnings: List[str] = field(default_factory=list)
    init_error: str = ""
    cuda_home: Optional[str] = None  # torch.utils.cpp_extension.CUDA_HOME
    torchvision_version: Optional[str] = None
    torchvision_error: str = ""
    torchaudio_version: Optional[str] = None
    torchaudio_error: str = ""
    # The companion's own Requires-Dist on torch (==2.14.0, >=2.14.0); None: it declares none
    torchvision_requires_torch: Optional[str] = None
    torchaudio_requires_torch: Optional[str] = None
    numpy_status: Optional[NumpyStatus] = None  # None: not probed
    numpy_version: Optional[str] = None
    numpy_error: str = ""
    numpy_required_by: List[str] = field(default_factory=list)  # dists that need it (when missing)
    distributions: List[Distribution] = field(default_factory=list)  # every torch-family dist found
    nvidia_wheels: Dict[str, str] = field(default_factory=dict)
    loaded_libraries: List[LoadedLibrary] = field(default_factory=list)
    seconds: Optional[float] = None
    # fact -> why the probe could not read it (a torch build without an attribute the probe reads)
    unavailable: Dict[str, str] = field(default_factory=dict)
    compile: Optional[CompileFacts] = (
        None  # None: not probed (facts recorded before PyTorch 2 checks)
    )

    def cuda_index_by_bus(self) -> Dict[str, int]:
        """torch's device number per PCI bus id: NVML counts GPUs in bus order, CUDA fastest first."""
        return {d.pci_bus_id.upper(): d.index for d in self.devices if d.pci_bus_id}


@dataclass
class Facts:
    """Everything doctor knows about one machine; `doctor --facts` replays it."""

    schema: str = FACTS_SCHEMA
    collected_at: str = ""
    gpusetup_version: str = ""
    host: HostFacts = field(default_factory=HostFacts)
    driver: DriverFacts = field(default_factory=DriverFacts)
    gpus: List[GpuFacts] = field(default_factory=list)
    toolkit: ToolkitFacts = field(default_factory=ToolkitFacts)
    torch: TorchFacts = field(default_factory=lambda: TorchFacts(status=ProbeStatus.NOT_RUN))
    input: InputFacts = field(default_factory=InputFacts)
