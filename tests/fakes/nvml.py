"""A data-driven stand-in for the pynvml module, raising the real pynvml error classes.

Each FakeGpu field is what NVML returns; a field set to an NVML error code raises that error
(NotSupported on GeForce ECC queries, GpuIsLost for a dead board), as the real library does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Tuple

import pynvml

NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED
NO_PERMISSION = pynvml.NVML_ERROR_NO_PERMISSION
GPU_IS_LOST = pynvml.NVML_ERROR_GPU_IS_LOST


@dataclass(frozen=True)
class _Err:
    code: int


def fails(code: int) -> _Err:
    """Mark a FakeGpu field as failing with an NVML error code."""
    return _Err(code)


_NOT_SUPPORTED = _Err(NOT_SUPPORTED)


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-5f8a3c1e-0000-4000-8000-000000000001"
    bus_id: str = "00000000:18:00.0"
    brand: int = pynvml.NVML_BRAND_NVIDIA
    capability: Any = (9, 0)
    memory: Any = (81559 * 2**20, 512 * 2**20)  # total, used
    ecc_mode: Any = (1, 1)
    ecc_volatile: Any = 0
    ecc_aggregate: Any = 0
    retired_pages: Any = _NOT_SUPPORTED  # Ampere+ HBM parts remap rows instead
    retired_pending: Any = _NOT_SUPPORTED
    remapped_rows: Any = (0, 0, 0, 0)  # correctable, uncorrectable, pending, failure
    clock_reasons: Any = 0x1  # GpuIdle
    sm_clock: Any = 345
    sm_clock_max: Any = 1980
    pcie: Any = (5, 5, 16, 16)  # gen current, gen max, width current, width max
    persistence: Any = 1
    mig_mode: Any = (0, 0)
    compute_mode: Any = pynvml.NVML_COMPUTEMODE_DEFAULT
    temperature: Any = 34
    temperature_slowdown: Any = 87
    power: Any = (71_000, 700_000, 700_000)  # draw, enforced limit, default limit (mW)
    fabric_state: Any = pynvml.NVML_GPU_FABRIC_STATE_NOT_SUPPORTED
    processes: Any = field(default_factory=list)  # [(pid, used bytes)]
    handle_error: Optional[int] = None


@dataclass
class FakeNvml:
    """Stands in for the pynvml module at gpusetup.facts.nvml.collect_nvml(lib=...)."""

    gpus: List[FakeGpu] = field(default_factory=lambda: [FakeGpu()])
    driver: str = "550.54.15"
    cuda: int = 12040
    init_error: Optional[int] = None
    calls: List[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        # Constants, structs and error classes come from the real module.
        if name.startswith("nvml"):
            raise AttributeError(name)
        return getattr(pynvml, name)

    # -- library ------------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls.append("init")
        _raise(self.init_error)

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.cuda

    def nvmlSystemGetNVMLVersion(self) -> str:
        return "12." + self.driver

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        gpu = self.gpus[index]
        _raise(gpu.handle_error)
        return gpu

    # -- per device ---------------------------------------------------------------------------
    def nvmlDeviceGetName(self, h: FakeGpu) -> str:
        return _value(h.name)

    def nvmlDeviceGetUUID(self, h: FakeGpu) -> str:
        return _value(h.uuid)

    def nvmlDeviceGetPciInfo(self, h: FakeGpu) -> Any:
        return SimpleNamespace(busId=_value(h.bus_id).encode())

    def nvmlDeviceGetBrand(self, h: FakeGpu) -> int:
        return _value(h.brand)

    def nvmlDeviceGetCudaComputeCapability(self, h: FakeGpu) -> Tuple[int, int]:
        return _value(h.capability)

    def nvmlDeviceGetMemoryInfo(self, h: FakeGpu) -> Any:
        total, used = _value(h.memory)
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetEccMode(self, h: FakeGpu) -> Tuple[int, int]:
        return _value(h.ecc_mode)

    def nvmlDeviceGetTotalEccErrors(self, h: FakeGpu, kind: int, counter: int) -> int:
        assert kind == pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
        return _value(h.ecc_volatile if counter == pynvml.NVML_VOLATILE_ECC else h.ecc_aggregate)

    def nvmlDeviceGetRetiredPages(self, h: FakeGpu, cause: int) -> List[int]:
        return _value(h.retired_pages)

    def nvmlDeviceGetRetiredPagesPendingStatus(self, h: FakeGpu) -> int:
        return _value(h.retired_pending)

    def nvmlDeviceGetRemappedRows(self, h: FakeGpu) -> Tuple[int, int, int, int]:
        return _value(h.remapped_rows)

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: FakeGpu) -> int:
        return _value(h.clock_reasons)

    def nvmlDeviceGetClockInfo(self, h: FakeGpu, clock: int) -> int:
        return _value(h.sm_clock)

    def nvmlDeviceGetMaxClockInfo(self, h: FakeGpu, clock: int) -> int:
        return _value(h.sm_clock_max)

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: FakeGpu) -> int:
        return _value(h.pcie)[0]

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: FakeGpu) -> int:
        return _value(h.pcie)[1]

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: FakeGpu) -> int:
        return _value(h.pcie)[2]

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: FakeGpu) -> int:
        return _value(h.pcie)[3]

    def nvmlDeviceGetPersistenceMode(self, h: FakeGpu) -> int:
        return _value(h.persistence)

    def nvmlDeviceGetMigMode(self, h: FakeGpu) -> Tuple[int, int]:
        return _value(h.mig_mode)

    def nvmlDeviceGetComputeMode(self, h: FakeGpu) -> int:
        return _value(h.compute_mode)

    def nvmlDeviceGetTemperature(self, h: FakeGpu, sensor: int) -> int:
        return _value(h.temperature)

    def nvmlDeviceGetTemperatureThreshold(self, h: FakeGpu, kind: int) -> int:
        return _value(h.temperature_slowdown)

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        return _value(h.power)[0]

    def nvmlDeviceGetEnforcedPowerLimit(self, h: FakeGpu) -> int:
        return _value(h.power)[1]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h: FakeGpu) -> int:
        return _value(h.power)[2]

    def nvmlDeviceGetGpuFabricInfo(self, h: FakeGpu, info: Any) -> int:
        info.state = _value(h.fabric_state)
        return 0

    def nvmlDeviceGetComputeRunningProcesses(self, h: FakeGpu) -> List[Any]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in _value(h.processes)]


def _raise(code: Optional[int]) -> None:
    if code is not None:
        raise pynvml.NVMLError(code)


def _value(value: Any) -> Any:
    """An int that is an NVML error code stands for 'this query fails with that error'."""
    if isinstance(value, _Err):
        raise pynvml.NVMLError(value.code)
    return value


# -- scenarios per GPU generation / product line --------------------------------------------


def h100_sxm() -> FakeNvml:
    """HGX H100: ECC on, row remapping, NVSwitch fabric completed, 700 W."""
    gpu = FakeGpu(
        fabric_state=pynvml.NVML_GPU_FABRIC_STATE_COMPLETED,
        retired_pages=fails(NOT_SUPPORTED),
        retired_pending=fails(NOT_SUPPORTED),
    )
    return FakeNvml(gpus=[gpu], driver="550.54.15", cuda=12040)


def rtx_4090() -> FakeNvml:
    """GeForce (limited NVML support): no ECC, no MIG, no row remap, no fabric."""
    gpu = FakeGpu(
        name="NVIDIA GeForce RTX 4090",
        uuid="GPU-0a1b2c3d-0000-4000-8000-000000004090",
        bus_id="00000000:01:00.0",
        brand=pynvml.NVML_BRAND_GEFORCE_RTX,
        capability=(8, 9),
        memory=(24564 * 2**20, 1024 * 2**20),
        ecc_mode=fails(NOT_SUPPORTED),
        retired_pages=fails(NOT_SUPPORTED),
        retired_pending=fails(NOT_SUPPORTED),
        remapped_rows=fails(NOT_SUPPORTED),
        pcie=(1, 4, 16, 16),
        mig_mode=fails(NOT_SUPPORTED),
        power=(28_000, 450_000, 450_000),
        fabric_state=fails(NOT_SUPPORTED),
        temperature_slowdown=90,
        processes=[(1873, 480 * 2**20)],
    )
    return FakeNvml(gpus=[gpu], driver="535.104.05", cuda=12020)


def pascal_gtx1080() -> FakeNvml:
    """An older driver generation on Pascal: retired pages (no row remap), fewer queries."""
    gpu = FakeGpu(
        name="NVIDIA GeForce GTX 1080",
        uuid="GPU-00000000-0000-4000-8000-000000001080",
        bus_id="00000000:02:00.0",
        brand=pynvml.NVML_BRAND_GEFORCE,
        capability=(6, 1),
        memory=(8192 * 2**20, 300 * 2**20),
        ecc_mode=fails(NOT_SUPPORTED),
        retired_pages=fails(NOT_SUPPORTED),
        retired_pending=fails(NOT_SUPPORTED),
        remapped_rows=fails(NOT_SUPPORTED),
        pcie=(3, 3, 16, 16),
        mig_mode=fails(NOT_SUPPORTED),
        power=(9_000, 180_000, 180_000),
        fabric_state=fails(NOT_SUPPORTED),
        clock_reasons=fails(NOT_SUPPORTED),
    )
    return FakeNvml(gpus=[gpu], driver="470.256.02", cuda=11040)


def sick_a100() -> FakeNvml:
    """An A100 with everything wrong at once: volatile DBEs, pending remap, power brake, x8 link."""
    gpu = FakeGpu(
        name="NVIDIA A100-SXM4-80GB",
        capability=(8, 0),
        ecc_volatile=2,
        ecc_aggregate=5,
        remapped_rows=(3, 1, 1, 0),
        clock_reasons=0x80 | 0x4,
        pcie=(4, 4, 8, 16),
        power=(250_000, 250_000, 400_000),
        mig_mode=(1, 1),
        compute_mode=pynvml.NVML_COMPUTEMODE_EXCLUSIVE_PROCESS,
        memory=(81920 * 2**20, 80000 * 2**20),
        processes=[(4242, 79000 * 2**20)],
        fabric_state=pynvml.NVML_GPU_FABRIC_STATE_NOT_STARTED,
        persistence=0,
    )
    return FakeNvml(gpus=[gpu], driver="535.104.05", cuda=12020)


SCENARIOS: Dict[str, Any] = {
    "h100-sxm": h100_sxm,
    "rtx-4090": rtx_4090,
    "gtx-1080-r470": pascal_gtx1080,
    "sick-a100": sick_a100,
}
