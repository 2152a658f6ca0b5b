"""Every parser of user input raises only the one-line error family (exit 2), whatever it is given."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gpusetup.errors import UsageError
from gpusetup.profiles.load import load_file
from gpusetup.verify.config import parse_devices, parse_dtypes, parse_min_tflops


@given(st.text(max_size=20), st.one_of(st.none(), st.integers(min_value=0, max_value=16)))
@example("²", 0)  # found by this test: a digit to str.isdigit(), not to int()
def test_device_lists(text: str, count: int | None) -> None:
    with contextlib.suppress(UsageError):
        devices = parse_devices(text, count)
        assert devices in (["all"], ["cpu"]) or all(d.isascii() and d.isdigit() for d in devices)


@given(st.text(max_size=30))
def test_dtype_lists(text: str) -> None:
    with contextlib.suppress(UsageError):
        assert set(parse_dtypes(text, "quick")) <= {"fp32", "tf32", "fp16", "bf16", "fp8"}


@given(st.lists(st.text(max_size=12), max_size=3))
def test_min_tflops(items: list[str]) -> None:
    with contextlib.suppress(UsageError):
        assert all(value > 0 for value in parse_min_tflops(items).values())


yaml_like = st.text(
    alphabet=st.sampled_from(list("abc:-[]{}'\"\n 0123456789.#&*!|>")), max_size=120
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(body=yaml_like)
def test_profile_files(tmp_path: Path, body: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text("schema: gpusetup.profiles/1\nkind: stacks\n" + body)
    with contextlib.suppress(UsageError):
        load_file(path)
