"""The built wheel carries profiles/ and works outside the source tree (what an install gets)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.fakes.stub_envs import site_packages

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
CI_FACTS = ROOT / "tests/fixtures/facts/recorded-ci-container-no-gpu-cpu-torch.json"


def _project() -> dict:  # type: ignore[type-arg]
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def test_no_extra_installs_torch_or_publishes_test_tools() -> None:
    project = _project()
    assert "optional-dependencies" not in project  # no [verify] (an unchosen torch), no [test]
    assert not any(d.startswith("torch") for d in project["dependencies"])
    tests = (ROOT / "requirements-test.txt").read_text()
    assert "pytest" in tests and "torch" not in [line.split(">")[0] for line in tests.splitlines()]


def test_metadata_license_urls_classifiers_keywords() -> None:
    project = _project()
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert {"Homepage", "Source", "Issues"} <= set(project["urls"])
    assert "cuda" in project["keywords"] and "pytorch" in project["keywords"]
    import yaml

    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    for version in ci["jobs"]["test"]["strategy"]["matrix"]["python-version"]:
        assert f"Programming Language :: Python :: {version}" in project["classifiers"]


def test_typer_bound_is_measured() -> None:
    """An upper bound only with its measurement: benchmarks/typer_startup.py reproduces it."""
    (typer,) = [d for d in _project()["dependencies"] if d.startswith("typer")]
    assert "<" in typer and (ROOT / "benchmarks/typer_startup.py").is_file()


def test_sdist_includes_what_its_tests_read() -> None:
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    included = set(build["targets"]["sdist"]["include"])
    needed = {
        "action.yml",
        ".github",
        ".ci",
        "LICENSE",
        "requirements-test.txt",
        "requirements-torch-cpu.txt",
    }
    assert needed <= included and {"src", "tests", "profiles"} <= included


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="venv layout")
def test_pip_install_dot_into_a_fresh_venv_gives_a_working_gpusetup(tmp_path: Path) -> None:
    """The README's plain-venv install, for real: its dependencies come from the package index."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    gpusetup = str(tmp_path / "venv" / "bin" / "gpusetup")
    version = subprocess.run(
        [gpusetup, "--version"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("gpusetup ")
    doctor = subprocess.run(
        [gpusetup, "doctor", "--facts", str(CI_FACTS), "--strict"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    where = subprocess.run(
        [str(python), "-c", "import gpusetup; print(gpusetup.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert str(tmp_path / "venv") in where.stdout  # the installed copy, not the source tree


@pytest.mark.slow
def test_sdist_carries_what_its_own_tests_need(tmp_path: Path) -> None:
    """Built by `python -m build` as CI does; its tests/test_workflows.py passes from the unpacked sdist."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "b")], check=True)
    builder = tmp_path / "b" / "bin" / "python"
    subprocess.run([str(builder), "-m", "pip", "install", "-q", "build"], check=True, timeout=600)
    subprocess.run(
        [str(builder), "-m", "build", "--sdist", "-o", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    (sdist,) = (tmp_path / "dist").glob("gpusetup-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
        if hasattr(tarfile, "data_filter"):  # 3.12+ warns without a filter (3.14 changes it)
            archive.extractall(tmp_path / "x", filter="data")
        else:
            archive.extractall(tmp_path / "x")  # our own archive
    assert {"action.yml", ".github/workflows/ci.yml", "LICENSE", "requirements-test.txt"} <= names
    (root,) = (tmp_path / "x").iterdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_workflows.py"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:]


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


@pytest.mark.slow
def test_wheel_contains_every_profile(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for profile in sorted((ROOT / "profiles").glob("*.yaml")):
        assert f"gpusetup/_profiles/{profile.name}" in names
    assert "gpusetup/facts/_torch_probe.py" in names and "gpusetup/verify/_bench_child.py" in names
    # The benchmark child loads its parts by path from beside itself: each must ship with it.
    for part in ("harness", "matmul", "conv", "memory"):
        assert f"gpusetup/verify/_bench_{part}.py" in names


@pytest.mark.slow
def test_wheel_contains_every_json_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    schemas = sorted((ROOT / "src" / "gpusetup" / "schemas").glob("*.json"))
    assert len(schemas) >= 6
    for schema in schemas:
        assert f"gpusetup/schemas/{schema.name}" in names


@pytest.mark.slow
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
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not the source tree
    listed = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "gpusetup"), "profiles", "list"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
    )
    assert listed.returncode == 0 and "2.13.0" in listed.stdout
    validated = subprocess.run(
        [str(python), "-m", "gpusetup", "profiles", "validate"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
    )
    assert validated.returncode == 0
    assert "site-packages/gpusetup/_profiles/torch.yaml" in validated.stdout
