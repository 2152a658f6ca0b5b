"""Real installs from a file:// index in a hostile environment, and installs that must not be believed.

A second file:// index holds a "wrong" torch (2.6.0+zzz, which pip would rank above 2.6.0+cu124):
every PIP_* route to it is set, and the torch that lands must still be the plan's. A pip that exits 0
but changes nothing must be caught by the check afterwards, with no constraints file written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from gpusetup.facts.installer_config import Kept, NetSettings
from gpusetup.install.apply import run_installer
from gpusetup.install.installers import Conda
from tests.fakes.wheels import build_wheel, stand_in_torch

pytestmark = pytest.mark.slow
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _family(index: Path, local: str, cuda: str) -> None:
    build_wheel(index, "torch", f"2.6.0+{local}", stand_in_torch(f"2.6.0+{local}", cuda))
    build_wheel(
        index,
        "torchvision",
        f"0.21.0+{local}",
        {"torchvision/__init__.py": f'__version__ = "0.21.0+{local}"\n'},
    )


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    good, evil = tmp_path_factory.mktemp("good"), tmp_path_factory.mktemp("evil")
    _family(good, "cu124", "12.4")
    _family(evil, "zzz", "12.4")
    profiles = tmp_path_factory.mktemp("profiles")
    (profiles / "site.yaml").write_text(
        "schema: gpusetup.profiles/1\nkind: stacks\nstacks:\n"
        "  - name: site\n    torch: '2.6.0'\n    cuda: cu124\n    packages: [torch, torchvision]\n"
        f"    index_url: {good.as_uri()}\n"
    )
    return {"good": good, "evil": evil, "profiles": profiles}


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    return tmp_path / "venv" / "bin" / "python"


def _hostile(indexes: Dict[str, Path], tmp: Path) -> Dict[str, str]:
    """Every way a user's environment could name the evil index to pip."""
    evil = indexes["evil"].as_uri()
    option = f"--extra-index-url {evil}\n"
    files = {
        "constraints.txt": option,
        "requirements.txt": option + "torch\n",
        "pip.conf": f"[global]\nextra-index-url = {evil}\nindex-url = {evil}\ntimeout = 33\n",
    }
    for name, text in files.items():
        (tmp / name).write_text(text)
    home = tmp / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(f"[global]\nextra-index-url = {evil}\n")
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PIP_NO_INPUT": "1",
        "PIP_CONSTRAINT": str(tmp / "constraints.txt"),
        "PIP_REQUIREMENT": str(tmp / "requirements.txt"),
        "PIP_EXTRA_INDEX_URL": evil,
        "PIP_INDEX_URL": evil,
        "PIP_FIND_LINKS": str(indexes["evil"] / "torch"),
        "PIP_CONFIG_FILE": str(tmp / "pip.conf"),
        "PIP_PRE": "1",
    }


def _gpusetup(env: Dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gpusetup", "install", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "PYTHONPATH": SRC},  # this checkout's gpusetup, nothing else
    )


def _installed(python: Path) -> str:
    code = "from importlib import metadata; print(metadata.version('torch'), metadata.version('torchvision'))"
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize(
    "only",
    ["PIP_CONSTRAINT", "PIP_REQUIREMENT", "all"],
)
def test_hostile_pip_settings_cannot_add_an_index(
    only: str, indexes: Dict[str, Path], venv: Path, tmp_path: Path
) -> None:
    hostile = _hostile(indexes, tmp_path)
    env = (
        hostile
        if only == "all"
        else {
            k: v
            for k, v in hostile.items()
            if not k.startswith("PIP_") or k in (only, "PIP_NO_INPUT")
        }
    )
    constraints = tmp_path / "out.txt"
    result = _gpusetup(
        env,
        "--profiles",
        str(indexes["profiles"]),
        "--profile",
        "site",
        "--python",
        str(venv),
        "--installer",
        "pip",
        "--constraints",
        str(constraints),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(venv) == "2.6.0+cu124 0.21.0+cu124"  # from the first index, not 2.6.0+zzz
    looking = [line for line in result.stdout.splitlines() if line.startswith("Looking in")]
    assert looking == [f"Looking in indexes: {indexes['good'].as_uri()}"]
    assert constraints.read_text().splitlines()[1:] == [
        "torch==2.6.0+cu124",
        "torchvision==0.21.0+cu124",
    ]
    if only in ("PIP_CONFIG_FILE", "all"):
        assert "--timeout 33" in " ".join(result.stdout.split())  # the kept setting, passed on


def _fake_pip(venv: Path, preinstalled: str) -> Path:
    """Replace the venv's pip with one that exits 0 and changes nothing (it leaves a marker)."""
    site = next((venv.parent.parent / "lib").glob("python3*/site-packages"))
    subprocess.run(
        [str(venv), "-m", "pip", "install", "-q", "--no-index", "--no-deps", preinstalled],
        check=True,
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": os.devnull},
    )
    shutil.rmtree(site / "pip")
    (site / "pip").mkdir()
    (site / "pip" / "__init__.py").write_text("")
    marker = site / "pip" / "RAN"
    (site / "pip" / "__main__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nprint('Successfully installed (nothing)')\n"
    )
    return marker


@pytest.fixture
def stale(tmp_path: Path) -> Path:
    """A stand-in torch 2.5.0+cpu wheel, what the target holds before the install."""
    return build_wheel(
        tmp_path / "stale", "torch", "2.5.0+cpu", stand_in_torch("2.5.0+cpu", "None")
    )


def test_an_installer_that_changes_nothing_is_caught(
    indexes: Dict[str, Path], venv: Path, tmp_path: Path, stale: Path
) -> None:
    marker = _fake_pip(venv, str(stale))
    constraints = tmp_path / "out.txt"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    args = ["--profiles", str(indexes["profiles"]), "--profile", "site", "--python", str(venv)]
    result = _gpusetup(env, *args, "--installer", "pip", "--constraints", str(constraints))
    assert marker.exists()  # pip "succeeded"
    assert result.returncode == 1, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert "torch: installed 2.5.0+cpu, planned 2.6.0+cu124" in err
    assert "torchvision: not installed, planned 0.21.0+cu124" in err
    assert "installed torch" not in result.stdout and not constraints.exists()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("dir", "is a directory"),
        ("/dev/full", "not a regular file"),
        ("missing/c.txt", "does not exist"),
    ],
)
def test_constraints_target_is_checked_before_the_installer_runs(
    indexes: Dict[str, Path], venv: Path, tmp_path: Path, stale: Path, target: str, message: str
) -> None:
    marker = _fake_pip(venv, str(stale))
    (tmp_path / "dir").mkdir()
    path = target if target.startswith("/") else str(tmp_path / target)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    args = ["--profiles", str(indexes["profiles"]), "--profile", "site", "--python", str(venv)]
    result = _gpusetup(env, *args, "--installer", "pip", "--constraints", path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not marker.exists()  # nothing ran


def test_conda_runs_in_an_allow_listed_env_with_a_condarc_that_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner for real: a stand-in `conda` (this python) records its environment and CONDARC."""
    record = tmp_path / "record.txt"
    code = (
        "import os, sys; rc = os.environ['CONDARC']; "
        f"open({str(record)!r}, 'w').write(repr((sorted(os.environ), rc, open(rc).read(), os.getcwd())))"
    )
    monkeypatch.setenv("CONDA_CHANNELS", "evil")
    monkeypatch.setenv("CONDARC", str(tmp_path / "evil.condarc"))
    settings = NetSettings((Kept("proxy_servers.https", "http://proxy:3128", "~/.condarc"),))
    run_installer(Conda(), [sys.executable, "-c", code], settings)
    names, rc, text, cwd = eval(record.read_text())  # our own repr
    assert not any(n.startswith("CONDA_") for n in names) and rc != str(tmp_path / "evil.condarc")
    assert text == "proxy_servers:\n  https: http://proxy:3128\n"
    assert os.path.dirname(rc) == cwd and not os.path.exists(cwd)  # the scratch dir is gone


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_real_uv_ignores_its_hostile_config(
    indexes: Dict[str, Path], venv: Path, tmp_path: Path
) -> None:
    evil = indexes["evil"].as_uri()
    (tmp_path / "uv.toml").write_text(
        f'[[index]]\nurl = "{evil}"\n[pip]\nextra-index-url = ["{evil}"]\n'
    )
    (tmp_path / "c.txt").write_text(f"--extra-index-url {evil}\n")
    uv_dir = os.path.dirname(shutil.which("uv") or "")
    env = {
        "PATH": f"{uv_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "UV_CONFIG_FILE": str(tmp_path / "uv.toml"),
        "UV_CONSTRAINT": str(tmp_path / "c.txt"),
        "UV_INDEX": evil,
        "UV_EXTRA_INDEX_URL": evil,
        "UV_OFFLINE": "1",
    }
    args: List[str] = [
        "--profiles",
        str(indexes["profiles"]),
        "--profile",
        "site",
        "--python",
        str(venv),
    ]
    result = _gpusetup(env, *args, "--installer", "uv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed(venv) == "2.6.0+cu124 0.21.0+cu124"


@pytest.mark.parametrize("fmt", ["command", "requirements", "uv", "conda"])
def test_any_format_only_prints_and_never_runs_the_installer(
    indexes: Dict[str, Path], venv: Path, tmp_path: Path, stale: Path, fmt: str
) -> None:
    """--format command once fell through to a real install: every format is print-only."""
    marker = _fake_pip(venv, str(stale))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    args = ["--profiles", str(indexes["profiles"]), "--profile", "site", "--python", str(venv)]
    result = _gpusetup(env, *args, "--installer", "pip", "--format", fmt)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists()  # pip never ran
    assert "torch" in result.stdout
