"""What the checks read: the facts, the profiles, and a few values derived from both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from gpusetup.facts.model import Facts, GpuFacts, Unstated
from gpusetup.facts.status import NvmlStatus, ProbeStatus
from gpusetup.profiles.model import Profiles
from gpusetup.versions import (
    ComputeCapability,
    CudaVersion,
    DriverVersion,
    optional_cuda,
    optional_driver,
)


def cuda_build_unknown(facts: Facts) -> bool:
    """torch's CUDA build is not known: not probed/stated, or marked unreadable by the reader."""
    torch = facts.torch
    if torch.status != ProbeStatus.OK or Unstated.TORCH.value in facts.input.unstated:
        return True
    if torch.cuda_build or torch.hip_build:
        return False
    if "cuda_build" in torch.unavailable:
        return True  # a paste cut before the line, or a build it could not read: not a CPU build
    if not facts.input.pasted:
        return False  # the probe read torch.version.cuda itself: None is a CPU build
    local = (torch.version or "").partition("+")[2].lower()
    return local.startswith(("cu", "rocm"))  # "+cu121" with no CUDA stated: the build is unknown


@dataclass(frozen=True)
class Context:
    facts: Facts
    profiles: Profiles
    expect_gpus: Optional[int] = None  # doctor/verify --expect-gpus: GPUs this machine should show

    @property
    def nvml_ok(self) -> bool:
        return self.facts.driver.nvml == NvmlStatus.OK

    @property
    def gpus(self) -> List[GpuFacts]:
        return self.facts.gpus

    @property
    def has_nvidia_gpu(self) -> bool:
        """Any sign of an NVIDIA GPU: NVML, the PCI bus, device nodes or a loaded module."""
        host = self.facts.host
        return bool(
            self.facts.gpus
            or (host.nvidia_pci_devices or 0) > 0
            or any(n[len("nvidia") :].isdigit() for n in host.dev_nvidia)
            or host.proc_driver_version
            or (host.is_wsl and host.wsl_libcuda)
        )

    @property
    def driver_version(self) -> Optional[DriverVersion]:
        """NVML's answer, else the kernel module's (/proc, /sys) when NVML could not start."""
        host = self.facts.host
        for text in (
            self.facts.driver.version,
            host.proc_driver_version,
            host.nvidia_module_version,
        ):
            version = optional_driver(text)
            if version is not None:
                return version
        return None

    @property
    def driver_cuda(self) -> Optional[CudaVersion]:
        """The newest CUDA the driver supports: NVML's, else derived from the driver version."""
        from_nvml = optional_cuda(self.facts.driver.cuda_version)
        if from_nvml is not None:
            return from_nvml
        driver = self.driver_version
        if driver is None and self.facts.torch.driver_api_version:
            api = self.facts.torch.driver_api_version  # torch's "found version 11040" = CUDA 11.4
            return CudaVersion(api // 1000, (api % 1000) // 10)
        return self.profiles.max_cuda_for_driver(driver, self.os_name) if driver else None

    def stated(self, area: Unstated) -> bool:
        """False when a pasted report does not state this area: checks must not read its defaults."""
        return area.value not in self.facts.input.unstated

    @property
    def os_name(self) -> str:
        return self.facts.host.os.lower() or "linux"

    @property
    def torch_ok(self) -> bool:
        return self.facts.torch.status == ProbeStatus.OK

    def cuda_build_unknown(self) -> bool:
        """torch's CUDA build is not known (see cuda_build_unknown below)."""
        return cuda_build_unknown(self.facts)

    def cuda_build_absent(self) -> bool:
        """torch is known to be a CPU build (not merely a report that does not say which build)."""
        torch = self.facts.torch
        return (
            self.torch_ok
            and not torch.cuda_build
            and not torch.hip_build
            and not self.cuda_build_unknown()
        )

    @property
    def torch_cuda(self) -> Optional[CudaVersion]:
        return optional_cuda(self.facts.torch.cuda_build) if self.torch_ok else None

    def capabilities(self) -> List[tuple[GpuFacts, ComputeCapability]]:
        result = []
        for gpu in self.gpus:
            if gpu.compute_capability:
                result.append((gpu, ComputeCapability.parse(gpu.compute_capability)))
        return result
