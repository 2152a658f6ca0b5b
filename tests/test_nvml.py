"""The NVML adapter against fake NVML scenarios, one per driver generation and failure."""

from __future__ import annotations

import pynvml
import pytest

from gpusetup.facts.nvml import collect_nvml
from tests.fakes.nvml import (
    GPU_IS_LOST,
    NO_PERMISSION,
    NOT_SUPPORTED,
    SCENARIOS,
    FakeGpu,
    FakeNvml,
    fails,
    h100_sxm,
    rtx_4090,
)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "library-not-found"),
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver-not-loaded"),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "version-mismatch"),
        (pynvml.NVML_ERROR_NO_PERMISSION, "no-permission"),
        (pynvml.NVML_ERROR_GPU_IS_LOST, "gpu-lost"),
        (pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, "function-not-found"),
        (pynvml.NVML_ERROR_UNKNOWN, "unknown"),
    ],
)
def test_init_errors_become_statuses(code: int, status: str) -> None:
    driver, gpus = collect_nvml(FakeNvml(init_error=code))
    assert (driver.nvml, gpus) == (status, [])
    assert driver.nvml_error


def test_datacenter_gpu_reads_every_field() -> None:
    lib = h100_sxm()
    driver, (gpu,) = collect_nvml(lib)
    assert (driver.version, driver.cuda_version) == ("550.54.15", "12.4")
    assert gpu.compute_capability == "9.0" and gpu.pci_bus_id == "00000000:18:00.0"
    assert gpu.ecc_enabled is True and gpu.ecc_uncorrected_volatile == 0
    assert gpu.remapped_rows_pending is False and gpu.fabric_state == "completed"
    assert (gpu.power_limit_w, gpu.power_default_limit_w) == (700.0, 700.0)
    assert gpu.memory_total_mib == 81559
    assert lib.calls == ["init", "shutdown"]


def test_geforce_unsupported_fields_are_recorded_not_fatal() -> None:
    _, (gpu,) = collect_nvml(rtx_4090())
    assert gpu.ecc_enabled is None and gpu.mig_enabled is None and gpu.remapped_rows_pending is None
    assert gpu.unsupported["ecc_mode"] == "Not Supported"
    assert gpu.name == "NVIDIA GeForce RTX 4090" and gpu.brand == "GeForce RTX"
    assert gpu.processes[0].pid == 1873 and gpu.processes[0].used_mib == 480


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_collects(name: str) -> None:
    driver, gpus = collect_nvml(SCENARIOS[name]())
    assert driver.nvml == "ok" and gpus and all(g.name for g in gpus)


def test_a_lost_gpu_degrades_only_its_row() -> None:
    lib = FakeNvml(gpus=[FakeGpu(handle_error=GPU_IS_LOST), FakeGpu(uuid="GPU-2")])
    _, (lost, ok) = collect_nvml(lib)
    assert "lost" in lost.error.lower() and ok.error == "" and ok.uuid == "GPU-2"


def test_permission_denied_on_one_field() -> None:
    _, (gpu,) = collect_nvml(FakeNvml(gpus=[FakeGpu(processes=fails(NO_PERMISSION))]))
    assert gpu.processes == [] and "processes" in gpu.unsupported


def test_a_quirky_return_value_degrades_the_gpu_not_the_report() -> None:
    _, (gpu,) = collect_nvml(FakeNvml(gpus=[FakeGpu(retired_pages=7)]))
    assert gpu.error.startswith("could not read this GPU")


def test_old_driver_without_clock_event_reasons() -> None:
    _, (gpu,) = collect_nvml(FakeNvml(gpus=[FakeGpu(clock_reasons=fails(NOT_SUPPORTED))]))
    assert gpu.clocks_event_reasons is None and "clocks_event_reasons" in gpu.unsupported


def test_real_library_absent_on_this_machine() -> None:
    """No NVIDIA driver here: the real pynvml must report it as a status, not raise."""
    driver, gpus = collect_nvml()
    assert driver.nvml in ("ok", "library-not-found", "driver-not-loaded")
    if driver.nvml != "ok":
        assert gpus == []
