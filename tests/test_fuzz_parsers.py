"""Every parser of user input raises only the one-line error family (exit 2), whatever it is given."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gpusetup.errors import UsageError
from gpusetup.facts.host import RELEVANT_ENV
from gpusetup.facts.model import Facts
from gpusetup.facts.paste.clean import clean_lines
from gpusetup.facts.paste.host_signals import read_host_signals
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


# Pieces of the lines the host-signal reader looks for, so the fuzz reaches its regexes' edges.
signal_like = st.lists(
    st.sampled_from(
        [
            "nv-fabricmanager[1]: ",
            "driver interface version 530.30.02 don't match with driver version ",
            "530.41.03",
            "Active: ",
            "failed ",
            "\u25cf nvidia-fabricmanager.service ",
            "Fabric Manager version is : ",
            "Failed to initialize NVML: Driver/library version mismatch",
            "NVML library version: ",
            "os.environ['CUDA_VISIBLE_DEVICES'] = ",
            "'1'",
            '"',
            "-e ",
            "--env=",
            "export ",
            "$ ",
            "NVIDIA_DRIVER_CAPABILITIES=",
            "utility",
            " python x.py",
            "NVRM: API mismatch: ",
            "=",
            " ",
            "\n",
            "\\",
        ]
    )
    | st.text(max_size=5),
    max_size=30,
).map("".join)


@settings(max_examples=300)
@given(signal_like)
def test_host_signal_lines(text: str) -> None:
    facts = Facts(collected_at="")
    lines = clean_lines(text)
    used = read_host_signals(lines, facts)
    assert used <= {line.number for line in lines}
    assert set(facts.host.env_set_by_script) | set(facts.host.env) <= set(RELEVANT_ENV)
    assert all("\n" not in value for value in facts.host.env.values())
