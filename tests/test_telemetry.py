"""verify's GPU-side glue without a GPU: the NVML sampler (fake NVML at its seam) and the matching of
the benchmark child's CUDA-numbered devices to NVML's bus-ordered GPUs."""

from __future__ import annotations

import time

import pynvml

from gpusetup.facts.nvml import Sampler, collect_nvml
from gpusetup.profiles.model import Profiles
from gpusetup.verify.events import ChildDevice
from gpusetup.verify.run import by_device
from gpusetup.verify.score import Floors, score
from tests.fakes.nvml import FakeGpu, FakeNvml


def _two_gpus() -> FakeNvml:
    slow = FakeGpu(
        uuid="GPU-b",
        bus_id="00000000:3B:00.0",
        clock_reasons=0x4 | 0x40,
        sm_clock=1095,
        temperature=86,
        power=(250_000, 250_000, 700_000),
        pcie=(1, 5, 16, 16),
    )
    return FakeNvml(gpus=[FakeGpu(uuid="GPU-a", clock_reasons=0x0, sm_clock=1980), slow])


def test_sampler_keeps_the_worst_of_what_it_saw() -> None:
    lib = _two_gpus()
    with Sampler(interval=0.01, lib=lib) as sampler:
        time.sleep(0.1)
    slow = sampler.telemetry["00000000:3B:00.0"]
    assert slow.samples >= 2 and set(slow.sm_clock_mhz) == {1095}
    assert slow.reasons == 0x4 | 0x40 and max(slow.temperature_c) == 86
    assert (slow.power_limit_w, slow.power_default_limit_w) == (250.0, 700.0)
    assert (slow.pcie_gen_max_seen, slow.pcie_width_min_seen) == (1, 16)
    assert lib.calls[0] == "init" and lib.calls[-1] == "shutdown"


def test_sampler_is_silent_without_nvml() -> None:
    with Sampler(
        interval=0.01, lib=FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    ) as sampler:
        time.sleep(0.03)
    assert sampler.telemetry == {}


def test_cuda_numbering_is_matched_to_nvml_by_bus_id(profiles: Profiles) -> None:
    """CUDA puts the fast GPU first; NVML lists by bus. The slow one's causes must land on its row."""
    lib = _two_gpus()
    _, gpus = collect_nvml(lib)
    with Sampler(interval=0.01, lib=lib) as sampler:
        time.sleep(0.05)
    devices = [
        ChildDevice(gpu=0, name="GPU", pci_bus_id="00000000:3b:00.0"),
        ChildDevice(gpu=1, name="GPU", pci_bus_id="00000000:18:00.0"),
    ]
    pcie, telemetry = by_device(devices, gpus, sampler.telemetry)
    assert pcie == {0: (5, 16), 1: (5, 16)}
    assert (
        telemetry[0].pci_bus_id == "00000000:3B:00.0"
        and telemetry[1].pci_bus_id == "00000000:18:00.0"
    )
    raw = [
        {
            "gpu": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "benchmark": "matmul",
            "dtype": "bf16",
            "value": 300.0,
            "unit": "TFLOP/s",
            "ok": True,
            "reason": "",
        },
        {
            "gpu": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "benchmark": "h2d",
            "dtype": "fp32",
            "value": 3.0,
            "unit": "GB/s",
            "ok": True,
            "reason": "",
        },
    ]
    matmul, h2d = score(raw, profiles, Floors(), pcie, telemetry)
    assert "SwPowerCap and HwThermalSlowdown active" in matmul.reason
    assert (
        "250 W enforced vs 700 W default" in matmul.reason
        and "SM clock median 1095 MHz" in matmul.reason
    )
    assert "PCIe Gen1 x16 under load (capable of Gen5 x16)" in h2d.reason
