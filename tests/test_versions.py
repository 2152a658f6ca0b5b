"""Version value classes: parse, print, order as numbers; fuzzed parsers raise only UsageError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.errors import UsageError
from gpusetup.versions import ComputeCapability, CudaVersion, DriverVersion


def test_driver_versions_order_numerically() -> None:
    assert DriverVersion.parse("535.104.05") > DriverVersion.parse("535.86.10")
    assert DriverVersion.parse("570.26") < DriverVersion.parse("570.124.06")
    assert DriverVersion.parse("580") == DriverVersion.parse("580.0")
    assert str(DriverVersion.parse("535.104.05")) == "535.104.05"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("11.8", (11, 8)), ("cu118", (11, 8)), ("12.4.1", (12, 4)), ("cu130", (13, 0))],
)
def test_cuda_parse(text: str, expected: tuple[int, int]) -> None:
    version = CudaVersion.parse(text)
    assert (version.major, version.minor) == expected


def test_cuda_orders_as_numbers_and_tags() -> None:
    assert CudaVersion.parse("12.10") > CudaVersion.parse("12.9")
    assert CudaVersion.from_nvml(12040) == CudaVersion(12, 4)
    assert CudaVersion(11, 8).tag == "cu118"


@pytest.mark.parametrize(
    ("text", "code"),
    [("8.6", 86), ("sm_90a", 90), ("compute_120", 120), ("sm_100f", 100), ("75", 75)],
)
def test_capability_parse(text: str, code: int) -> None:
    assert ComputeCapability.parse(text).code == code


@pytest.mark.parametrize("bad", ["abc", "", "1", "cu", "sm_", "12.x"])
def test_bad_versions_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        CudaVersion.parse(bad)
    with pytest.raises(UsageError):
        ComputeCapability.parse(bad)


@given(st.text(max_size=20))
def test_parsers_raise_only_usage_errors(text: str) -> None:
    for parse in (CudaVersion.parse, DriverVersion.parse, ComputeCapability.parse):
        with contextlib.suppress(UsageError):
            parse(text)


def test_public_version_names_the_release_or_none() -> None:
    from packaging.version import Version

    from gpusetup.versions import public_version

    assert public_version("2.4.1+cu121") == Version("2.4.1")
    assert public_version("2." + "9" * 5000) is None  # int() refuses 4300+ digits
    assert public_version("not-a-version") is None and public_version(None) is None
