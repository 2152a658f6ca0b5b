"""Severities that fit the machine: a CPU-only runner with CPU torch is healthy; --expect-gpus."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gpusetup.cli import app
from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Severity
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.model import Facts
from gpusetup.facts.probe import probe_torch
from gpusetup.profiles.model import Profiles
from tests.conftest import FIXTURES, facts_fixture, make_runner
from tests.fakes.stub_envs import NUMPY_HIDDEN

runner = make_runner()
CI = str(FIXTURES / "facts" / "recorded-ci-container-no-gpu-cpu-torch.json")


def _ids(facts: Facts, profiles: Profiles, expect: int | None = None) -> dict[str, Severity]:
    return {f.id: f.severity for f in run_checks(Context(facts, profiles, expect))}


def test_strict_passes_on_a_cpu_only_runner_with_cpu_torch() -> None:
    result = runner.invoke(app, ["doctor", "--facts", CI, "--strict", "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert {f["id"]: f["severity"] for f in report["findings"]} == {"no-nvidia-gpu": "info"}


def test_container_with_no_sign_of_a_gpu_is_a_cpu_machine(profiles: Profiles) -> None:
    found = _ids(facts_fixture(CI.rsplit("/", 1)[1]), profiles)
    assert "container-no-gpu-runtime" not in found and found["no-nvidia-gpu"] is Severity.INFO


@pytest.mark.parametrize(
    ("sign", "expect"),
    [("pci", None), ("NVIDIA_VISIBLE_DEVICES", None), ("none", 1)],
)
def test_container_with_a_sign_of_a_gpu_lacks_its_runtime(
    sign: str, expect: int | None, profiles: Profiles
) -> None:
    facts = facts_fixture(CI.rsplit("/", 1)[1])
    if sign == "pci":
        facts.host.nvidia_pci_devices = 1  # the host's GPU on the bus, as the container sees it
    if sign == "NVIDIA_VISIBLE_DEVICES":
        facts.host.nvidia_visible_devices = "all"
    assert _ids(facts, profiles, expect)["container-no-gpu-runtime"] is Severity.ERROR


def test_unreadable_pci_bus_in_a_container_is_a_cpu_machine(profiles: Profiles) -> None:
    facts = facts_fixture(CI.rsplit("/", 1)[1])
    facts.host.nvidia_pci_devices = None
    found = _ids(facts, profiles)
    assert "container-no-gpu-runtime" not in found and found["no-nvidia-gpu"] is Severity.INFO


def test_expect_gpus_fails_when_fewer_are_visible() -> None:
    result = runner.invoke(app, ["doctor", "--facts", CI, "--expect-gpus", "1", "--json"])
    ids = [f["id"] for f in json.loads(result.stdout)["findings"]]
    assert result.exit_code == 1 and "fewer-gpus-than-expected" in ids
    assert runner.invoke(app, ["doctor", "--facts", CI, "--expect-gpus", "0"]).exit_code == 0


def test_expect_gpus_counts_what_torch_sees_too(h100: Facts, profiles: Profiles) -> None:
    assert "fewer-gpus-than-expected" not in _ids(h100, profiles, 1)
    h100.torch.device_count = 0  # NVML reads the GPU, CUDA numbers none
    assert _ids(h100, profiles, 1)["fewer-gpus-than-expected"] is Severity.ERROR


@pytest.mark.parametrize("command", ["doctor", "verify"])
@pytest.mark.parametrize("value", ["-1", "x", "1.5"])
def test_bad_expect_gpus_is_one_line_exit_2(command: str, value: str) -> None:
    args = [command, "--expect-gpus", value] + (["--facts", CI] if command == "doctor" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"--expect-gpus {value}: not a GPU count" in result.stderr
    assert "Traceback" not in result.output


def test_verify_expect_gpus_fails_before_running_on_a_machine_without_them() -> None:
    result = runner.invoke(app, ["verify", "--device", "cpu", "--expect-gpus", "1"])
    assert result.exit_code == 1, result.output
    assert "--expect-gpus 1: 0 GPU(s) visible" in result.stderr


def test_numpy_missing_is_info_unless_something_needs_it(h100: Facts, profiles: Profiles) -> None:
    h100.torch.numpy_status, h100.torch.numpy_version = "missing", None
    assert _ids(h100, profiles)["numpy-missing"] is Severity.INFO
    h100.torch.numpy_required_by = ["torchvision"]
    assert _ids(h100, profiles)["numpy-missing"] is Severity.WARNING


@pytest.mark.slow
def test_probe_names_what_needs_the_missing_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")  # the probe runs real CPU torch in a child
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "__init__.py").write_text(NUMPY_HIDDEN)
    for name, requires in (
        ("needs-numpy", "numpy>=1.22"),
        ("tests-with-numpy", 'numpy; extra == "test"'),
    ):
        dist = tmp_path / f"{name.replace('-', '_')}-1.0.dist-info"
        dist.mkdir()
        dist.joinpath("METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nRequires-Dist: {requires}\n"
        )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    facts = probe_torch(sys.executable)
    assert facts.numpy_status == "missing"
    assert "needs-numpy" in facts.numpy_required_by
    assert "tests-with-numpy" not in facts.numpy_required_by
