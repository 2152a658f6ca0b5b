"""torch's own rules, restated: arch compatibility and CUDA_VISIBLE_DEVICES parsing."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.rules.pytorch import (
    build_supports_device,
    code_runs_on_device,
    parse_visible_devices,
    rules_for,
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


RULE_TEXTS = Path(__file__).parent / "fixtures" / "torch_rules"
CODES = [50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 103, 110, 120, 121]
DEVICES = sorted({*CODES, 37, 54, 63, 71, 73, 76, 85, 88, 91, 102, 104, 111, 112, 122, 130})


def _torch_rule(version: str, cuda: str) -> Callable[[int, int], bool]:
    """torch's own _code_compatible_with_device, run from the text recorded from its wheel."""
    text = (RULE_TEXTS / f"recorded-2026-12-01-torch-{version}-cuda-init-rule.py.txt").read_text()
    fake_torch = SimpleNamespace(version=SimpleNamespace(cuda=cuda))
    scope: Dict[str, Any] = {"torch": fake_torch, "warnings": warnings}
    exec(compile("from __future__ import annotations\n" + text, version, "exec"), scope)
    rule: Callable[[int, int], bool] = scope["_code_compatible_with_device"]
    return rule


@pytest.mark.parametrize(
    ("version", "cuda"),
    [
        ("2.13.0", "13.0"),
        ("2.13.0", "13.2"),
        ("2.14.0", "13.0"),
        ("2.14.0", "13.2"),
        ("2.14.1", "12.6"),
        ("2.14.1", "13.2"),
        ("2.15.0", "13.0"),
        ("2.15.0", "13.2"),
    ],
)
def test_device_rule_matches_the_text_in_torchs_wheels(version: str, cuda: str) -> None:
    """Every known code against every device: gpusetup's rule agrees with the shipped one."""
    theirs = _torch_rule(version, cuda)
    rules = rules_for(version, CudaVersion.parse(cuda))
    for code in CODES:
        for device in DEVICES:
            assert code_runs_on_device(code, device, rules) is bool(theirs(device, code)), (
                version,
                cuda,
                code,
                device,
            )


def test_newer_rules_change_only_jetson_and_sm_110() -> None:
    old, new = rules_for("2.13.0", CudaVersion(13, 2)), rules_for("2.15.0", CudaVersion(13, 2))
    assert not code_runs_on_device(80, 87, old) and code_runs_on_device(80, 87, new)
    assert not code_runs_on_device(110, 101, old) and code_runs_on_device(110, 101, new)
    assert code_runs_on_device(110, 111, old) and not code_runs_on_device(110, 111, new)
    assert not code_runs_on_device(80, 87, rules_for("2.15.0", CudaVersion(13, 0)))
