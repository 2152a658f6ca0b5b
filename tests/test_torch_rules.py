"""torch's own rules, restated: arch compatibility and CUDA_VISIBLE_DEVICES parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.rules.pytorch import (
    build_supports_device,
    code_runs_on_device,
    parse_visible_devices,
    toolkit_mismatch,
    visible_nvml_indices,
)
from gpusetup.versions import ComputeCapability, CudaVersion


@pytest.mark.parametrize(
    ("code", "device", "runs"),
    [
        (80, 86, True),
        (80, 89, True),
        (86, 80, False),
        (80, 87, False),
        (87, 87, True),
        (90, 90, True),
        (90, 100, False),
        (100, 103, True),
        (100, 101, False),
        (101, 110, True),
        (120, 121, True),
        (120, 100, False),
        (60, 61, True),
        (60, 62, False),
        (70, 75, True),
        (75, 80, False),
    ],
)
def test_code_runs_on_device(code: int, device: int, runs: bool) -> None:
    assert code_runs_on_device(code, device) is runs


def test_blackwell_not_in_a_cu124_build() -> None:
    arch = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    assert not build_supports_device(arch, ComputeCapability.parse("12.0"))
    assert build_supports_device(arch, ComputeCapability.parse("8.9"))
    assert build_supports_device([*arch, "sm_120", "compute_120"], ComputeCapability.parse("12.0"))


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (None, None),
        ("", []),
        ("0", [0]),
        ("0,1", [0, 1]),
        ("1gpu2,2ampere", [1, 2]),
        ("0,0", []),
        ("0,-1,2", [0]),
        ("-1", []),
        ("GPU-abc,GPU-def", ["GPU-abc", "GPU-def"]),
        ("GPU-a,1", ["GPU-a"]),
        ("MIG-x", ["MIG-x"]),
        ("GPU-a,GPU-a", []),
        (" 1 , 0", [1, 0]),
    ],
)
def test_parse_visible_devices(value: str | None, parsed: object) -> None:
    assert parse_visible_devices(value) == parsed


def test_visible_by_uuid_prefix() -> None:
    uuids = ["GPU-aaaa-1", "GPU-bbbb-2"]
    assert visible_nvml_indices("GPU-bbbb", uuids).visible == [1]
    assert visible_nvml_indices("GPU-cccc", uuids).problem
    assert visible_nvml_indices("1,7", uuids).visible == [1]


@given(st.text(max_size=40))
def test_visible_devices_parser_never_raises(value: str) -> None:
    result = visible_nvml_indices(value, ["GPU-aaaa", "GPU-bbbb"])
    assert all(0 <= i < 2 for i in result.visible)


def test_toolkit_mismatch_levels() -> None:
    assert toolkit_mismatch(CudaVersion(11, 8), CudaVersion(12, 1)) == "major"
    assert toolkit_mismatch(CudaVersion(12, 4), CudaVersion(12, 1)) == "minor"
    assert toolkit_mismatch(CudaVersion(12, 1), CudaVersion(12, 1)) == ""
