"""conda's `pytorch` package as the real probe sees it on disk, laid out as real environments were reported.

Two public reports give the layouts:
- astral-sh/uv#2928 lists the torch-family metadata in `/opt/conda/lib/python3.10/site-packages` of the
  `pytorch/pytorch:2.2.2-cuda12.1-cudnn8-runtime` image (conda's pytorch 2.2.2): one
  `torch-2.2.2-py3.10.egg-info` (its PKG-INFO is quoted there; the header is transcribed below) beside
  `torchvision-0.17.2-py3.10.egg-info` and `triton-2.2.0-py3.10.egg-info`, and `pip freeze` shows
  `torch==2.2.2` once. So conda's package ships torch's own metadata: one install, two names.
- LLMServe/DistServe#52 pastes `conda list`: `pytorch 2.2.2 py3.10_cuda12.1_cudnn8.9.2_0 pytorch` beside
  `torch 2.5.1 pypi_0 pypi` (pip installed a second torch over it): two installs.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from gpusetup.doctor.context import Context
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.probe import probe_torch
from gpusetup.profiles.model import Profiles
from tests.conftest import facts_fixture
from tests.fakes.stub_envs import TORCH_CPU, make_env, site_packages

pytestmark = pytest.mark.slow

# astral-sh/uv#2928: the head of torch-2.2.2-py3.10.egg-info/PKG-INFO in the pytorch/pytorch image.
_PKG_INFO = """Metadata-Version: 2.1
Name: torch
Version: 2.2.2
Summary: Tensors and Dynamic neural networks in Python with strong GPU acceleration
Home-page: https://pytorch.org/
Requires-Python: >=3.8.0
Requires-Dist: filelock
Requires-Dist: typing-extensions>=4.8.0
"""

# LLMServe/DistServe#52: conda list's name, version and build string for the pytorch channel's package.
_CONDA_META = "pytorch-2.2.2-py3.10_cuda12.1_cudnn8.9.2_0.json"


def _conda_env(root: Path, torch_version: str) -> Path:
    """A venv made to look like a conda env holding the pytorch channel's 2.2.2 package."""
    python = make_env(root, "empty")
    site = site_packages(python)
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text(
        TORCH_CPU.replace('"2.4.1+cpu"', repr(torch_version))
    )
    egg = site / "torch-2.2.2-py3.10.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text(_PKG_INFO)
    (root / "conda-meta").mkdir()
    (root / "conda-meta" / _CONDA_META).write_text('{"name": "pytorch", "version": "2.2.2"}\n')
    return python


def _multiple(python: Path, profiles: Profiles) -> List[str]:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.torch = probe_torch(str(python))
    assert facts.torch.status == "ok", facts.torch.error
    found = [f for f in run_checks(Context(facts, profiles)) if f.id == "multiple-torch-installs"]
    return [str(i) for f in found for i in f.evidence["installs"]]


def test_conda_pytorch_package_alone_is_one_install(tmp_path: Path, profiles: Profiles) -> None:
    python = _conda_env(tmp_path / "env", "2.2.2")
    probed = probe_torch(str(python))
    # the probe sees both names of the one install: torch's egg-info and conda's pytorch record
    assert sorted((d.name, d.version) for d in probed.distributions) == [
        ("pytorch", "2.2.2"),
        ("torch", "2.2.2"),
    ]
    assert probed.conda_env
    assert _multiple(python, profiles) == []


def test_pip_torch_over_conda_pytorch_is_two_installs(tmp_path: Path, profiles: Profiles) -> None:
    python = _conda_env(tmp_path / "env", "2.5.1")
    dist = site_packages(python) / "torch-2.5.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1\n")
    (dist / "INSTALLER").write_text("pip\n")
    installs = _multiple(python, profiles)
    assert len(installs) == 2, installs
    assert any(i.startswith("torch 2.5.1 (pip)") for i in installs)
    assert any(i.startswith("pytorch 2.2.2 (conda)") for i in installs)
