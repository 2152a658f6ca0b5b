"""The NVML adapter: the only module that imports pynvml (from nvidia-ml-py).

Tests swap the whole library for a fake at `collect_nvml(lib=...)`; nothing else touches NVML.
Every per-GPU query degrades to "unsupported" on an NVML error, so one odd field never hides the
rest of the report.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from gpusetup.facts.model import DriverFacts, GpuFacts, GpuProcess, Telemetry
from gpusetup.facts.status import NvmlStatus

# nvmlInit error code -> the status doctor reasons about (NVML_ERROR_* names from nvml.h).
_INIT_STATUS = {
    "NVML_ERROR_LIBRARY_NOT_FOUND": NvmlStatus.LIBRARY_NOT_FOUND,
    "NVML_ERROR_DRIVER_NOT_LOADED": NvmlStatus.DRIVER_NOT_LOADED,
    "NVML_ERROR_LIB_RM_VERSION_MISMATCH": NvmlStatus.VERSION_MISMATCH,
    "NVML_ERROR_NO_PERMISSION": NvmlStatus.NO_PERMISSION,
    "NVML_ERROR_GPU_IS_LOST": NvmlStatus.GPU_LOST,
    "NVML_ERROR_FUNCTION_NOT_FOUND": NvmlStatus.FUNCTION_NOT_FOUND,
    "NVML_ERROR_OPERATING_SYSTEM": NvmlStatus.NO_PERMISSION,
}

_COMPUTE_MODES = {0: "default", 1: "exclusive-thread", 2: "prohibited", 3: "exclusive-process"}
_FABRIC_STATES = {0: "not-supported", 1: "not-started", 2: "in-progress", 3: "completed"}
_BRANDS = {
    "NVML_BRAND_GEFORCE": "GeForce",
    "NVML_BRAND_QUADRO": "Quadro",
    "NVML_BRAND_TESLA": "Tesla",
    "NVML_BRAND_NVIDIA": "NVIDIA",
    "NVML_BRAND_TITAN": "Titan",
    "NVML_BRAND_NVIDIA_RTX": "NVIDIA RTX",
    "NVML_BRAND_GEFORCE_RTX": "GeForce RTX",
    "NVML_BRAND_QUADRO_RTX": "Quadro RTX",
}


def load_pynvml() -> Any:
    """The real pynvml module, or None when nvidia-ml-py is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def collect_nvml(lib: Any = None) -> Tuple[DriverFacts, List[GpuFacts]]:
    """Driver facts and every GPU NVML can see; never raises for an NVML error."""
    lib = lib if lib is not None else load_pynvml()
    if lib is None:
        return DriverFacts(
            nvml=NvmlStatus.NOT_INSTALLED, nvml_error="nvidia-ml-py is not installed"
        ), []
    try:
        lib.nvmlInit()
    except lib.NVMLError as err:
        return DriverFacts(nvml=_init_status(lib, err), nvml_error=_text(str(err))), []
    try:
        driver = _driver_facts(lib)
        gpus = _all_gpus(lib, driver)
    finally:
        with contextlib.suppress(lib.NVMLError):
            lib.nvmlShutdown()
    return driver, gpus


def _init_status(lib: Any, err: Any) -> NvmlStatus:
    for name, status in _INIT_STATUS.items():
        if getattr(err, "value", None) == getattr(lib, name, object()):
            return status
    return NvmlStatus.UNKNOWN


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _driver_facts(lib: Any) -> DriverFacts:
    facts = DriverFacts(nvml=NvmlStatus.OK)
    facts.version = _optional(lambda: _text(lib.nvmlSystemGetDriverVersion()), lib)
    cuda = _optional(lib.nvmlSystemGetCudaDriverVersion, lib)
    if isinstance(cuda, int) and cuda > 0:
        facts.cuda_version = f"{cuda // 1000}.{(cuda % 1000) // 10}"
    facts.nvml_version = _optional(lambda: _text(lib.nvmlSystemGetNVMLVersion()), lib)
    facts.nvml_library = _loaded_nvml_path()
    return facts


def _optional(query: Callable[[], Any], lib: Any) -> Any:
    try:
        return query()
    except lib.NVMLError:
        return None


def _loaded_nvml_path() -> Optional[str]:
    """The libnvidia-ml file this process mapped: its version suffix is the userspace driver's."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        if "libnvidia-ml.so" in line:
            return os.path.realpath(line.split()[-1])
    return None


def _all_gpus(lib: Any, driver: DriverFacts) -> List[GpuFacts]:
    try:
        count = lib.nvmlDeviceGetCount()
    except lib.NVMLError as err:
        status = _init_status(lib, err)
        driver.nvml = status if status is not NvmlStatus.UNKNOWN else driver.nvml
        driver.nvml_error = _text(str(err))
        return []
    return [_one_gpu_guarded(lib, index) for index in range(count)]


def _one_gpu_guarded(lib: Any, index: int) -> GpuFacts:
    """One GPU; a library quirk (an odd return type) degrades that GPU's row, not the report."""
    try:
        return _one_gpu(lib, index)
    except Exception as err:  # noqa: BLE001 - per-GPU isolation is the point
        return GpuFacts(index=index, error=f"could not read this GPU: {type(err).__name__}: {err}")


def _one_gpu(lib: Any, index: int) -> GpuFacts:
    gpu = GpuFacts(index=index)
    try:
        handle = lib.nvmlDeviceGetHandleByIndex(index)
    except lib.NVMLError as err:
        gpu.error = _text(str(err))
        return gpu
    query = _FieldQuery(lib, handle, gpu.unsupported)
    gpu.name = _text(query("name", lib.nvmlDeviceGetName) or "")
    gpu.uuid = _text(query("uuid", lib.nvmlDeviceGetUUID) or "")
    pci = query("pci_bus_id", lib.nvmlDeviceGetPciInfo)
    gpu.pci_bus_id = _text(pci.busId) if pci is not None else ""
    gpu.brand = _brand(lib, query("brand", lib.nvmlDeviceGetBrand))
    cap = query("compute_capability", lib.nvmlDeviceGetCudaComputeCapability)
    gpu.compute_capability = f"{cap[0]}.{cap[1]}" if cap else None
    _memory(gpu, query)
    _reliability(lib, gpu, query)
    _clocks_and_link(lib, gpu, query)
    _modes_and_power(lib, gpu, query)
    gpu.processes = _processes(query("processes", lib.nvmlDeviceGetComputeRunningProcesses))
    return gpu


class _FieldQuery:
    """Runs one NVML query; on an NVML error records the field as unsupported and returns None."""

    def __init__(self, lib: Any, handle: Any, unsupported: Dict[str, str]) -> None:
        self.lib, self.handle, self.unsupported = lib, handle, unsupported

    def __call__(self, field: str, function: Any, *args: Any) -> Any:
        if function is None:
            self.unsupported[field] = "not in this nvidia-ml-py"
            return None
        try:
            return function(self.handle, *args)
        except self.lib.NVMLError as err:
            self.unsupported[field] = _text(str(err))
            return None


def _brand(lib: Any, value: Any) -> Optional[str]:
    if value is None:
        return None
    for name, label in _BRANDS.items():
        if getattr(lib, name, None) == value:
            return label
    return f"brand {value}"


def _memory(gpu: GpuFacts, query: _FieldQuery) -> None:
    info = query("memory", query.lib.nvmlDeviceGetMemoryInfo)
    if info is not None:
        gpu.memory_total_mib = int(info.total) // 2**20
        gpu.memory_used_mib = int(info.used) // 2**20


def _reliability(lib: Any, gpu: GpuFacts, query: _FieldQuery) -> None:
    ecc = query("ecc_mode", lib.nvmlDeviceGetEccMode)
    if ecc is not None:
        gpu.ecc_enabled, gpu.ecc_pending = bool(ecc[0]), bool(ecc[1])
    if gpu.ecc_enabled:
        errors = lib.nvmlDeviceGetTotalEccErrors
        unc = lib.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
        gpu.ecc_uncorrected_volatile = query("ecc_volatile", errors, unc, lib.NVML_VOLATILE_ECC)
        gpu.ecc_uncorrected_aggregate = query("ecc_aggregate", errors, unc, lib.NVML_AGGREGATE_ECC)
    cause = getattr(lib, "NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR", 1)
    pages = query("retired_pages", lib.nvmlDeviceGetRetiredPages, cause)
    gpu.retired_pages_dbe = len(pages) if pages is not None else None
    pending = query("retired_pages_pending", lib.nvmlDeviceGetRetiredPagesPendingStatus)
    gpu.retired_pages_pending = bool(pending) if pending is not None else None
    rows = query("remapped_rows", lib.nvmlDeviceGetRemappedRows)
    if rows is not None:
        gpu.remapped_rows_uncorrectable = int(rows[1])
        gpu.remapped_rows_pending, gpu.remapped_rows_failure = bool(rows[2]), bool(rows[3])


def _clocks_and_link(lib: Any, gpu: GpuFacts, query: _FieldQuery) -> None:
    reasons = getattr(lib, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
        lib, "nvmlDeviceGetCurrentClocksThrottleReasons", None
    )
    gpu.clocks_event_reasons = query("clocks_event_reasons", reasons)
    gpu.sm_clock_mhz = query("sm_clock", lib.nvmlDeviceGetClockInfo, lib.NVML_CLOCK_SM)
    gpu.sm_clock_max_mhz = query("sm_clock_max", lib.nvmlDeviceGetMaxClockInfo, lib.NVML_CLOCK_SM)
    gpu.pcie_gen_current = query("pcie_gen", lib.nvmlDeviceGetCurrPcieLinkGeneration)
    gpu.pcie_gen_max = query("pcie_gen_max", lib.nvmlDeviceGetMaxPcieLinkGeneration)
    gpu.pcie_width_current = query("pcie_width", lib.nvmlDeviceGetCurrPcieLinkWidth)
    gpu.pcie_width_max = query("pcie_width_max", lib.nvmlDeviceGetMaxPcieLinkWidth)


def _modes_and_power(lib: Any, gpu: GpuFacts, query: _FieldQuery) -> None:
    persistence = query("persistence_mode", lib.nvmlDeviceGetPersistenceMode)
    gpu.persistence_mode = bool(persistence) if persistence is not None else None
    mig = query("mig_mode", lib.nvmlDeviceGetMigMode)
    if mig is not None:
        gpu.mig_enabled, gpu.mig_pending = bool(mig[0]), bool(mig[1])
    mode = query("compute_mode", lib.nvmlDeviceGetComputeMode)
    gpu.compute_mode = _COMPUTE_MODES.get(mode, str(mode)) if mode is not None else None
    gpu.temperature_c = query("temperature", lib.nvmlDeviceGetTemperature, lib.NVML_TEMPERATURE_GPU)
    gpu.temperature_slowdown_c = query(
        "temperature_slowdown",
        lib.nvmlDeviceGetTemperatureThreshold,
        lib.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
    )
    gpu.power_draw_w = _watts(query("power_draw", lib.nvmlDeviceGetPowerUsage))
    gpu.power_limit_w = _watts(query("power_limit", lib.nvmlDeviceGetEnforcedPowerLimit))
    gpu.power_default_limit_w = _watts(
        query("power_default_limit", lib.nvmlDeviceGetPowerManagementDefaultLimit)
    )
    gpu.fabric_state = _fabric_state(lib, query)


def _watts(milliwatts: Any) -> Optional[float]:
    return round(milliwatts / 1000.0, 1) if isinstance(milliwatts, (int, float)) else None


def _fabric_state(lib: Any, query: _FieldQuery) -> Optional[str]:
    struct = getattr(lib, "c_nvmlGpuFabricInfo_t", None)
    function = getattr(lib, "nvmlDeviceGetGpuFabricInfo", None)
    if struct is None or function is None:
        return None
    info = struct()
    if query("fabric_state", function, info) is None and "fabric_state" in query.unsupported:
        return None
    return _FABRIC_STATES.get(int(info.state), str(info.state))


def _processes(raw: Any) -> List[GpuProcess]:
    result = []
    for proc in raw or []:
        used = getattr(proc, "usedGpuMemory", None)
        result.append(
            GpuProcess(
                pid=int(proc.pid),
                used_mib=int(used) // 2**20 if isinstance(used, int) else None,
                name=_process_name(int(proc.pid)),
            )
        )
    return result


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class Sampler:
    """Samples every GPU through NVML on a thread until stopped; silent when NVML is absent."""

    def __init__(self, interval: float = 0.2, lib: Any = None) -> None:
        self.interval, self.lib = interval, lib if lib is not None else load_pynvml()
        self.telemetry: Dict[str, Telemetry] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> Sampler:
        if self.lib is None:
            return self
        try:
            self.lib.nvmlInit()
        except self.lib.NVMLError:
            return self
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            with contextlib.suppress(self.lib.NVMLError):
                self.lib.nvmlShutdown()

    def _run(self) -> None:
        handles = self._handles()
        while not self._stop.is_set():
            for bus, handle in handles.items():
                self._sample(self.telemetry[bus], handle)
            self._stop.wait(self.interval)

    def _handles(self) -> Dict[str, Any]:
        handles: Dict[str, Any] = {}
        with contextlib.suppress(self.lib.NVMLError):
            for index in range(self.lib.nvmlDeviceGetCount()):
                handle = self.lib.nvmlDeviceGetHandleByIndex(index)
                bus = _text(self.lib.nvmlDeviceGetPciInfo(handle).busId)
                handles[bus] = handle
                self.telemetry[bus] = Telemetry(pci_bus_id=bus)
                lib = self.lib
                limit = _optional(
                    functools.partial(lib.nvmlDeviceGetEnforcedPowerLimit, handle), lib
                )
                default = _optional(
                    functools.partial(lib.nvmlDeviceGetPowerManagementDefaultLimit, handle), lib
                )
                self.telemetry[bus].power_limit_w = _watts(limit)
                self.telemetry[bus].power_default_limit_w = _watts(default)
        return handles

    def _sample(self, t: Telemetry, handle: Any) -> None:
        lib = self.lib
        t.samples += 1
        reasons = getattr(lib, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            lib, "nvmlDeviceGetCurrentClocksThrottleReasons", None
        )
        values = {
            "clock": lambda: lib.nvmlDeviceGetClockInfo(handle, lib.NVML_CLOCK_SM),
            "power": lambda: lib.nvmlDeviceGetPowerUsage(handle),
            "temp": lambda: lib.nvmlDeviceGetTemperature(handle, lib.NVML_TEMPERATURE_GPU),
            "reasons": lambda: reasons(handle) if reasons else None,
            "gen": lambda: lib.nvmlDeviceGetCurrPcieLinkGeneration(handle),
            "width": lambda: lib.nvmlDeviceGetCurrPcieLinkWidth(handle),
        }
        got = {key: _optional(fn, lib) for key, fn in values.items()}
        if isinstance(got["clock"], int):
            t.sm_clock_mhz.append(got["clock"])
        if isinstance(got["power"], (int, float)):
            t.power_w.append(got["power"] / 1000.0)
        if isinstance(got["temp"], int):
            t.temperature_c.append(got["temp"])
        if isinstance(got["reasons"], int):
            t.reasons |= got["reasons"] & ~0x1  # idle is not a cause
        if isinstance(got["gen"], int):
            t.pcie_gen_max_seen = max(t.pcie_gen_max_seen or 0, got["gen"])
        if isinstance(got["width"], int):
            t.pcie_width_min_seen = min(t.pcie_width_min_seen or 99, got["width"])
