"""The torch probe, run for real as a subprocess: stub torch environments and real CPU torch."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

from gpusetup.errors import UsageError
from gpusetup.facts.collect import collect_facts
from gpusetup.facts.probe import probe_torch, target_python
from tests.conftest import torch_cuda_build
from tests.fakes.nvml import FakeNvml
from tests.fakes.stub_envs import NUMPY_HIDDEN, NUMPY_WITHOUT_C_API, make_env, site_packages

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    root = tmp_path_factory.mktemp("envs")
    return {
        kind: str(make_env(root / kind, kind))
        for kind in ("cpu", "old-cuda", "raises", "hangs", "garbage", "segfault", "empty")
    }


def test_cpu_build(envs: Dict[str, str]) -> None:
    facts = probe_torch(envs["cpu"])
    assert facts.status == "ok" and facts.version == "2.4.1+cpu" and facts.cuda_build is None
    assert facts.cuda_available is False and facts.arch_list == []
    assert [d.name for d in facts.distributions] == ["torch"]


def test_old_cuda_build_with_broken_torchvision(envs: Dict[str, str]) -> None:
    facts = probe_torch(envs["old-cuda"])
    assert facts.cuda_build == "11.8" and "sm_90" in facts.arch_list
    assert facts.nccl_version == "2.14.3" and facts.cudnn_version == 8700
    assert "too old" in facts.init_error and any("too old" in w for w in facts.init_warnings)
    assert "torchvision::nms does not exist" in facts.torchvision_error


def test_torch_missing(envs: Dict[str, str]) -> None:
    assert probe_torch(envs["empty"]).status == "missing"


def test_import_error_is_a_status(envs: Dict[str, str]) -> None:
    facts = probe_torch(envs["raises"])
    assert facts.status == "import-error" and "libcudnn.so.9" in facts.error


def test_hang_times_out(envs: Dict[str, str]) -> None:
    facts = probe_torch(envs["hangs"], timeout=3)
    assert facts.status == "timeout" and "did not finish" in facts.error


def test_silent_exit_is_bad_output(envs: Dict[str, str]) -> None:
    assert probe_torch(envs["garbage"]).status == "bad-output"


def test_segfault_is_a_crash(envs: Dict[str, str]) -> None:
    facts = probe_torch(envs["segfault"])
    assert facts.status == "crashed" and "signal 11" in facts.error


def test_stray_torch_in_cwd_is_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, envs: Dict[str, str]
) -> None:
    (tmp_path / "torch.py").write_text("raise SystemExit('wrong torch')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", ".")
    assert probe_torch(envs["cpu"]).version == "2.4.1+cpu"


def test_real_cpu_torch() -> None:
    pytest.importorskip("torch")
    facts = probe_torch(sys.executable)
    assert facts.status == "ok" and facts.version and facts.version.startswith("2.")
    assert facts.cuda_build == torch_cuda_build() and facts.cuda_available is False
    assert any(d.name == "torch" for d in facts.distributions)
    assert facts.numpy_status == ("ok" if importlib.util.find_spec("numpy") else "missing")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs CPU torch")
@pytest.mark.parametrize(
    ("numpy_source", "status"), [(NUMPY_HIDDEN, "missing"), (NUMPY_WITHOUT_C_API, "broken")]
)
def test_real_torch_beside_a_missing_or_unusable_numpy(
    numpy_source: str, status: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "__init__.py").write_text(numpy_source)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    facts = probe_torch(sys.executable)
    assert facts.status == "ok" and facts.numpy_status == status
    if status == "broken":  # torch's import warned "Failed to initialize NumPy"; .numpy() raises
        assert facts.numpy_version == "2.0.0" and "Numpy is not available" in facts.numpy_error


@pytest.mark.parametrize("bad", ["/nonexistent/python", "/", "/etc/hostname", "/bin/ls"])
def test_bad_python_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError):
        target_python(bad)


def test_target_python_default_is_this_interpreter() -> None:
    assert target_python(None) == sys.executable


def test_a_second_torch_on_the_path_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, envs: Dict[str, str]
) -> None:
    extra = tmp_path / "user-site"
    dist = extra / "torch-2.3.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.3.0\n")
    monkeypatch.setenv("PYTHONPATH", str(extra))
    facts = probe_torch(envs["cpu"])
    assert sorted(d.version for d in facts.distributions if d.name == "torch") == [
        "2.3.0",
        "2.4.1+cpu",
    ]


def test_the_probe_runs_while_nvml_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """doctor starts the probe first: the target's torch import overlaps the NVML and toolkit reads."""
    started = tmp_path / "probe-started"
    env = make_env(tmp_path / "env", "cpu")
    stub = next((tmp_path / "env").glob("lib/python*/site-packages/torch/__init__.py"))
    stub.write_text(f"open({str(started)!r}, 'w').close()\n" + stub.read_text())
    seen: List[bool] = []

    class NvmlThatWaits(FakeNvml):
        def nvmlInit(self) -> None:  # wait (at most 30 s) for the probe's torch import to begin
            deadline = time.monotonic() + 30
            while not started.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            seen.append(started.exists())
            super().nvmlInit()

    facts = collect_facts(str(env), nvml_lib=NvmlThatWaits())
    assert seen == [True] and facts.torch.status == "ok" and facts.driver.nvml == "ok"


def test_companions_own_torch_requirement_is_read(tmp_path: Path) -> None:
    """The probe reports torchvision's Requires-Dist on torch, which the pairing check trusts first."""
    python = make_env(tmp_path / "env", "cpu")
    site = site_packages(python)
    (site / "torchvision").mkdir()
    (site / "torchvision" / "__init__.py").write_text("__version__ = '0.19.1+cpu'\n")
    dist = site / "torchvision-0.19.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: torchvision\nVersion: 0.19.1+cpu\nRequires-Dist: numpy\n"
        "Requires-Dist: torch (==2.4.1)\nRequires-Dist: torchaudio ; extra == 'audio'\n"
    )
    facts = probe_torch(str(python))
    assert facts.torchvision_version == "0.19.1+cpu"
    assert facts.torchvision_requires_torch == "==2.4.1"
    assert facts.torchaudio_requires_torch is None
