"""The built wheel carries profiles/ and works outside the source tree (what an install gets)."""

from __future__ import annotations

import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.fakes.stub_envs import site_packages

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("gpusetup-*.whl")
    return built


def test_wheel_contains_every_profile(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for profile in sorted((ROOT / "profiles").glob("*.yaml")):
        assert f"gpusetup/_profiles/{profile.name}" in names
    assert "gpusetup/facts/_torch_probe.py" in names and "gpusetup/verify/_bench_child.py" in names


def test_installed_wheel_reads_its_own_profiles(wheel: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    # The dependencies (typer, rich, ...) come from this interpreter's site-packages, listed after the
    # venv's own, so the installed wheel, not the source tree, is what imports as gpusetup.
    venv_site = site_packages(python)
    Path(venv_site, "gpusetup-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        timeout=300,
    )
    listed = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "gpusetup"), "profiles", "list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert listed.returncode == 0 and "2.13.0" in listed.stdout
    validated = subprocess.run(
        [str(python), "-m", "gpusetup", "profiles", "validate"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert validated.returncode == 0
    assert "site-packages/gpusetup/_profiles/torch.yaml" in validated.stdout
