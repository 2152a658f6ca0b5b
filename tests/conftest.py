"""Shared test helpers: recorded facts fixtures, the packaged profiles, a clean environment."""

from __future__ import annotations

import copy
import functools
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from typer.testing import CliRunner

from gpusetup.doctor.report import load_facts_file
from gpusetup.facts.model import Facts
from gpusetup.profiles.load import _merge, load_file, load_profiles
from gpusetup.profiles.model import Profiles

FIXTURES = Path(__file__).parent / "fixtures"
FACT_FILES = sorted((FIXTURES / "facts").glob("*.json"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit the developer's GPU-related environment."""
    for var in (
        "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER",
        "CUDA_HOME",
        "CUDA_PATH",
        "LD_LIBRARY_PATH",
        "GPUSETUP_PROFILES",
        "NO_COLOR",
        "VIRTUAL_ENV",  # the target interpreter's rule reads these two
        "CONDA_PREFIX",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def profiles() -> Profiles:
    return load_profiles()


def load_only(directory: Path) -> Profiles:
    """The profiles of one directory, without the packaged data (fixture profile sets)."""
    loaded = Profiles()
    for path in sorted(directory.glob("*.yaml")):
        _merge(loaded, path, load_file(path))
    return loaded


@pytest.fixture(scope="session")
def handmade() -> Profiles:
    """A small frozen profile set: resolver behaviour tests do not move when a release is added."""
    return load_only(FIXTURES / "profiles-handmade")


_CACHE: dict[str, Facts] = {}


def facts_fixture(name: str) -> Facts:
    """A deep copy of a facts fixture, so a test may mutate it."""
    if name not in _CACHE:
        _CACHE[name] = load_facts_file(str(FIXTURES / "facts" / name))
    return copy.deepcopy(_CACHE[name])


@pytest.fixture
def h100() -> Facts:
    return facts_fixture("handmade-h100-sxm-cu124.json")


@functools.cache
def torch_cuda_build() -> Optional[str]:
    """This interpreter's torch.version.cuda (None: a CPU build), asked in a child: tests never
    import torch. The verify and probe tests expect a CPU build, but hold for a CUDA one too."""
    found = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.version.cuda or '')"],
        capture_output=True,
        text=True,
    )
    words = found.stdout.split() if found.returncode == 0 else []
    return words[-1] if words else None


def make_runner() -> CliRunner:
    """A CliRunner that keeps stderr apart on every click generation (8.1 mixes it by default)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def default_signals() -> None:
    """preexec_fn for a CLI a test signals: gpusetup keeps a signal its parent ignores (as under
    nohup, or a job started with & in a script), so the test resets SIGINT and SIGHUP to default."""
    import signal

    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
