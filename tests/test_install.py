"""gpusetup install through the CLI: plans, formats, bad input, and a real pip run from a file:// index."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from packaging.version import Version

import gpusetup
from gpusetup.cli import app
from gpusetup.facts.model import DriverFacts
from gpusetup.facts.pyenv import PythonEnv
from gpusetup.install.plan import Overrides, already_installed, constraints_text, plan_machine
from gpusetup.install.resolve import Plan
from gpusetup.profiles.model import Profiles
from gpusetup.versions import BuildVariant
from tests.conftest import make_runner
from tests.fakes.wheels import build_wheel, stand_in_torch
from tests.jsonschema_subset import Validator

runner = make_runner()
PLAN = [
    "install",
    "--dry-run",
    "--driver",
    "550.54.15",
    "--arch",
    "sm_90",
    "--python-version",
    "3.11",
]

CU121 = BuildVariant.parse("cu121")


def _json(args: List[str]) -> Dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_plan_has_the_documented_shape() -> None:
    plan = _json([*PLAN, "--torch", "2.0.1", "--cuda", "11.8"])
    assert plan["schema"] == "gpusetup.install/1" and plan["status"] == "planned"
    assert plan["torch"] == "2.0.1" and plan["variant"] == "cu118"
    assert plan["index_url"] == "https://download.pytorch.org/whl/cu118"
    assert plan["packages"] == ["torch==2.0.1", "torchvision==0.15.2", "torchaudio==2.0.2"]
    assert plan["pins"] == ["numpy<2"]  # 2.0.1 was built for NumPy 1.x
    command = plan["command"]
    assert isinstance(command, list) and command[1:4] == ["-m", "pip", "install"]
    # The user's proxy/cert/timeout settings (if any) sit between `install` and the requirements.
    assert command[-6:-2] == [*plan["packages"], "numpy<2"]
    assert "--extra-index-url" not in command and command[-2:] == [
        "--index-url",
        "https://download.pytorch.org/whl/cu118",
    ]


def test_auto_for_another_machine() -> None:
    plan = _json(
        [
            "install",
            "--dry-run",
            "--driver",
            "535.104.05",
            "--arch",
            "sm_61",
            "--python-version",
            "3.10",
        ]
    )
    assert plan["variant"] == "cu126"


def test_print_is_one_shell_line() -> None:
    result = runner.invoke(app, [*PLAN, "--torch", "2.4.1", "--cuda", "cu121", "--print"])
    lines = result.stdout.strip().splitlines()
    assert result.exit_code == 0 and len(lines) == 1
    assert lines[0].endswith(
        "torch==2.4.1 torchvision==0.19.1 torchaudio==2.4.1 --index-url https://download.pytorch.org/whl/cu121"
    )


def test_format_requirements() -> None:
    out = runner.invoke(
        app, [*PLAN, "--torch", "2.4.1", "--cuda", "cu121", "--format", "requirements"]
    ).stdout
    assert out.splitlines() == [
        "--index-url https://download.pytorch.org/whl/cu121",
        "torch==2.4.1",
        "torchvision==0.19.1",
        "torchaudio==2.4.1",
    ]


def test_format_uv_pins_every_package_to_the_index() -> None:
    out = runner.invoke(
        app, [*PLAN, "--torch", "2.6.0", "--cuda", "cu126", "--format", "uv"]
    ).stdout
    assert (
        '[[tool.uv.index]]\nname = "pytorch-cu126"\nurl = "https://download.pytorch.org/whl/cu126"\nexplicit = true'
        in out
    )
    assert (
        'torch = [{ index = "pytorch-cu126" }]' in out
        and 'torchvision = [{ index = "pytorch-cu126" }]' in out
    )


def test_format_conda_pytorch_channel_and_conda_forge() -> None:
    old = runner.invoke(
        app, [*PLAN, "--torch", "2.4.1", "--cuda", "cu121", "--format", "conda"]
    ).stdout
    assert (
        "channels:\n  - https://conda.anaconda.org/pytorch\n  - https://conda.anaconda.org/nvidia\n  - nodefaults"
        in old
        and "  - pytorch-cuda=12.1" in old
        and "  - python=3.11" in old
    )
    new = runner.invoke(
        app, [*PLAN, "--torch", "2.6.0", "--cuda", "cu126", "--format", "conda"]
    ).stdout
    assert (
        "  - https://conda.anaconda.org/conda-forge" in new
        and "    - --index-url https://download.pytorch.org/whl/cu126" in new
    )


def test_explain_lists_rejected_candidates() -> None:
    out = runner.invoke(
        app,
        [
            "install",
            "--dry-run",
            "--driver",
            "535.104.05",
            "--arch",
            "sm_80",
            "--python-version",
            "3.11",
            "--explain",
        ],
    ).output
    assert "cu130: driver 535.104.05 < 580" in out and "taken" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cuda", "11.9"], "no CUDA 11.9 is known (CUDA 11.x goes to 11.8"),
        (["--cuda", "abc"], "not a CUDA version"),
        (["--torch", "1.13", "--cuda", "11.8"], "no PyTorch release in the profiles matches"),
        (["--torch", "9.9", "--cuda", "11.8"], "no PyTorch release in the profiles matches"),
        (
            ["--torch", "2.4.1", "--cuda", "cu121", "--python-version", "3.13"],
            "no wheel for Python 3.13",
        ),
        (["--python-version", "three"], "not a Python version"),
        (["--python-version", "3.¹¹"], "not a Python version"),
        (["--platform", "solaris"], "unknown platform"),
        (["--installer", "poetry"], "Invalid value for '--installer'"),
        (["--format", "xml"], "Invalid value for '--format'"),
        (["--packages", "torch,numpy"], "unknown package 'numpy'"),
        (["--profile", "nope"], "no such stack"),
        (["--arch", "sm_x"], "not a valid compute capability"),
        (["--driver", "new"], "not a valid driver version"),
        (["--constraints", "/nonexistent/dir/c.txt"], "its directory does not exist"),
    ],
)
def test_bad_input_exits_2(args: List[str], message: str) -> None:
    result = runner.invoke(app, ["install", "--dry-run", "--driver", "550.54.15", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr


def test_no_gpu_and_no_planning_flags_exit_2() -> None:
    result = runner.invoke(app, ["install", "--dry-run"])
    assert result.exit_code == 2 and "needs a driver" in result.stderr


def test_driver_that_runs_no_cuda_build_exit_3() -> None:
    result = runner.invoke(app, ["install", "--dry-run", "--driver", "418.87.01"])
    assert result.exit_code == 3 and "--cuda cpu" in result.stderr


def test_bad_user_profiles_exit_2(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "schema: gpusetup.profiles/1\nkind: stacks\nstacks:\n  - name: a\n    torch: '2.4.1'\n    cuda: cu121\n    index_url: http://mirror.local/whl\n"
    )
    result = runner.invoke(
        app, ["install", "--dry-run", "--profiles", str(tmp_path), "--profile", "a"]
    )
    assert result.exit_code == 2 and "site.yaml:7" in result.stderr and "https://" in result.stderr


def test_already_installed_compares_builds() -> None:
    plan = Plan(
        "2.4.1",
        CU121,
        "https://download.pytorch.org/whl/cu121",
        ["torch==2.4.1", "torchvision==0.19.1"],
        [],
    )
    assert already_installed(plan, {"torch": "2.4.1+cu121", "torchvision": "0.19.1+cu121"}, CU121)
    assert already_installed(
        plan, {"torch": "2.4.1", "torchvision": "0.19.1"}, CU121
    )  # PyPI's default build
    assert not already_installed(plan, {"torch": "2.4.1+cpu", "torchvision": "0.19.1+cpu"}, CU121)
    assert not already_installed(
        plan, {"torch": "2.4.0+cu121", "torchvision": "0.19.0+cu121"}, "cu121"
    )
    assert not already_installed(plan, {"torch": "2.4.1+cu121"}, CU121)


def test_constraints_pin_the_build() -> None:
    plan = Plan(
        "2.4.1",
        CU121,
        "https://download.pytorch.org/whl/cu121",
        ["torch==2.4.1", "torchvision==0.19.1"],
        [],
    )
    assert constraints_text(plan).splitlines()[1:] == [
        "torch==2.4.1+cu121",
        "torchvision==0.19.1+cu121",
    ]


# ---- a real pip run against a local index ---------------------------------------------------


# Stand-ins for 2.6.0 and 2.7.0: releases with wheels for every Python CI runs (3.9 to 3.13).
@pytest.fixture(scope="module")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("index")
    build_wheel(index, "torch", "2.6.0+cu124", stand_in_torch("2.6.0+cu124", "12.4"))
    build_wheel(
        index,
        "torchvision",
        "0.21.0+cu124",
        {"torchvision/__init__.py": '__version__ = "0.21.0+cu124"\n'},
    )
    build_wheel(index, "torch", "2.7.0+cu126", stand_in_torch("2.7.0+cu126", "12.6", broken=True))
    return index


@pytest.fixture(scope="module")
def site_profiles(tmp_path_factory: pytest.TempPathFactory, local_index: Path) -> Path:
    directory = tmp_path_factory.mktemp("profiles")
    url = local_index.as_uri()
    (directory / "site.yaml").write_text(
        "schema: gpusetup.profiles/1\nkind: stacks\nstacks:\n"
        f"  - name: site\n    torch: '2.6.0'\n    cuda: cu124\n    packages: [torch, torchvision]\n    index_url: {url}\n"
        f"  - name: broken\n    torch: '2.7.0'\n    cuda: cu126\n    packages: [torch]\n    index_url: {url}\n"
    )
    return directory


@pytest.fixture
def venv(tmp_path: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    return str(tmp_path / "venv" / "bin" / "python")


def _gpusetup(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "PIP_NO_INPUT": "1",
        "PYTHONPATH": str(Path(gpusetup.__file__).parents[1]),  # the gpusetup under test
    }
    return subprocess.run(
        [sys.executable, "-m", "gpusetup", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.slow
def test_real_install_is_idempotent_and_pins(
    venv: str, site_profiles: Path, local_index: Path, tmp_path: Path
) -> None:
    constraints = tmp_path / "constraints.txt"
    first = _gpusetup(
        "install",
        "--profiles",
        str(site_profiles),
        "--profile",
        "site",
        "--python",
        venv,
        "--installer",
        "pip",
        "--constraints",
        str(constraints),
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "installed torch 2.6.0 (cu124)" in first.stdout
    looking = [line for line in first.stdout.splitlines() if line.startswith("Looking in indexes:")]
    # pip lists every index it will use; the machine's pip.conf adds others, which must not appear.
    assert looking == [f"Looking in indexes: {local_index.as_uri()}"]
    assert "Looking in links" not in first.stdout
    assert constraints.read_text().splitlines()[1:] == [
        "torch==2.6.0+cu124",
        "torchvision==0.21.0+cu124",
    ]
    second = _gpusetup(
        "install", "--profiles", str(site_profiles), "--profile", "site", "--python", venv, "--json"
    )
    assert second.returncode == 0 and json.loads(second.stdout)["status"] == "already-installed"
    schemas = Validator(Path(gpusetup.__file__).parent / "schemas", closed=True)
    assert schemas.errors("install.json", json.loads(second.stdout)) == []


@pytest.mark.slow
def test_install_that_leaves_torch_broken_exits_1(venv: str, site_profiles: Path) -> None:
    result = _gpusetup(
        "install",
        "--profiles",
        str(site_profiles),
        "--profile",
        "broken",
        "--python",
        venv,
        "--installer",
        "pip",
    )
    assert result.returncode == 1
    assert "torch does not work" in result.stderr and "Traceback" not in result.stderr


def test_installer_env_is_an_allow_list() -> None:
    from gpusetup.facts.installer_config import NetSettings
    from gpusetup.install.installers import Pip

    env = Pip().env(
        {"PATH": "/bin", "PIP_EXTRA_INDEX_URL": "https://evil.example/simple", "UV_INDEX": "x"},
        NetSettings(),
        "/tmp",
    )
    assert env == {
        "PATH": "/bin",
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


@pytest.mark.parametrize(
    ("torch", "conda_env", "expected"),
    [("2.4.1", True, "conda"), ("2.10.0", True, "pip"), ("2.4.1", False, "pip")],
)
def test_auto_installer_follows_the_release_not_its_name(
    torch: str, conda_env: bool, expected: str, profiles: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2.10 is not on the pytorch conda channel although its name starts like 2.1's."""
    from gpusetup.facts.pyenv import PythonEnv
    from gpusetup.install.installer_choice import choose_installer
    from gpusetup.install.resolve import Machine, Request, resolve

    monkeypatch.setattr("gpusetup.plumbing.process.which", lambda name: None)
    plan = resolve(
        Request(torch=torch, cuda="cu121" if torch == "2.4.1" else "cu128"),
        Machine(python="3.11"),
        profiles,
    )  # type: ignore[arg-type]
    env = PythonEnv(
        "/opt/conda/bin/python", "3.11", "3.11.9", "linux", "x86_64", "/opt/conda", conda_env
    )
    assert choose_installer("auto", env, plan) == expected


def test_a_numpy_pin_is_part_of_being_installed() -> None:
    plan = Plan(
        "2.1.2",
        CU121,
        "https://download.pytorch.org/whl/cu121",
        ["torch==2.1.2", "torchvision==0.16.2"],
        [],
        pins=["numpy<2"],
    )
    family = {"torch": "2.1.2+cu121", "torchvision": "0.16.2+cu121"}
    assert already_installed(plan, {**family, "numpy": "1.26.4"}, CU121)
    assert already_installed(plan, family, CU121)  # no numpy: nothing to repair
    assert not already_installed(plan, {**family, "numpy": "2.1.3"}, CU121)  # torch cannot use it
    assert constraints_text(plan).splitlines()[-1] == "numpy<2"  # later installs keep numpy 1.x


@pytest.mark.parametrize(
    ("platform", "torch", "installed_is_planned"),
    [
        ("linux_x86_64", "2.10.0", True),  # the registry's x86_64 2.10.0 is the cu128 build
        ("linux_aarch64", "2.10.0", False),  # ... its aarch64 2.10.0 is a CPU build
        ("linux_aarch64", "2.11.0", False),  # aarch64 2.11.0 is cu130, not the planned cu128
        ("win_amd64", "2.10.0", False),  # every Windows wheel on the registry is a CPU build
    ],
)
def test_a_registry_torch_is_judged_by_the_targets_default_build(
    profiles: Profiles, platform: str, torch: str, installed_is_planned: bool
) -> None:
    """A torch without a local tag is the registry's build for the target platform, not x86_64's."""
    plan = Plan(
        torch,
        BuildVariant.parse("cu128"),
        "https://download.pytorch.org/whl/cu128",
        [f"torch=={torch}"],
        [],
    )
    default = profiles.releases[torch].default_build(platform)
    assert already_installed(plan, {"torch": torch}, default) is installed_is_planned


def test_the_full_python_version_is_planned_for() -> None:
    env = PythonEnv("/usr/bin/python3", "3.14", "3.14.1", "linux", "x86_64", "/usr", False)
    assert plan_machine(env, DriverFacts(nvml="not-installed"), [], Overrides()).python == "3.14.1"
    given = Overrides(python_version="3.14.1")
    assert plan_machine(env, DriverFacts(nvml="not-installed"), [], given).python == "3.14.1"
    assert (
        plan_machine(
            env, DriverFacts(nvml="not-installed"), [], Overrides(python_version="3.12")
        ).python
        == "3.12"
    )


def test_dry_run_for_python_3_14_1_never_plans_a_torchvision_that_excludes_it(
    profiles: Profiles,
) -> None:
    flags = ["install", "--dry-run", "--driver", "580.95.05", "--arch", "sm_90"]
    plan = _json([*flags, "--python-version", "3.14.1"])
    packages = plan["packages"]
    assert isinstance(packages, list)
    vision = next(p for p in packages if p.startswith("torchvision=="))
    entry = profiles.companion("torchvision", vision.split("==")[1])
    assert entry is not None and entry.runs_on("3.14.1")  # 0.26.0+ declare !=3.14.1
    newest = _json([*flags, "--python-version", "3.12"])
    assert Version(str(newest["torch"])) >= Version("2.14.0")  # not stuck at 2.13.0


def test_differences_name_what_the_target_holds_against_the_plan() -> None:
    """After an install: the planned build is clean; another build, a second copy or no CUDA is named."""
    from gpusetup.install.plan import Installed, differences

    plan = Plan(
        "2.4.1",
        CU121,
        "https://download.pytorch.org/whl/cu121",
        ["torch==2.4.1", "torchvision==0.19.1"],
        [],
    )
    good = Installed(
        {"torch": ["2.4.1+cu121"], "torchvision": ["0.19.1+cu121"]}, "2.4.1+cu121", "12.1"
    )
    assert differences(plan, good, CU121) == []
    cpu = Installed({"torch": ["2.4.1+cpu"], "torchvision": ["0.19.1+cpu"]}, "2.4.1+cpu", None)
    assert differences(plan, cpu, CU121) == [
        "torch: installed 2.4.1+cpu, planned 2.4.1+cu121",
        "torchvision: installed 0.19.1+cpu, planned 0.19.1+cu121",
        "torch: built for CUDA none (a CPU build), planned cu121",
    ]
    # conda packages carry no local tag: only torch.version.cuda tells the build
    conda = Installed({"torch": ["2.4.1"], "torchvision": ["0.19.1"]}, "2.4.1", "12.1")
    assert differences(plan, conda, CU121, local_tags=False) == []
    twice = Installed({"torch": ["2.4.1+cu121", "2.3.0+cu121"]}, "2.4.1+cu121", "12.1")
    assert differences(plan, twice, CU121) == [
        "torch: 2 copies on sys.path (2.4.1+cu121, 2.3.0+cu121)",
        "torchvision: not installed, planned 0.19.1+cu121",
    ]
    rocm = dataclasses.replace(plan, variant=BuildVariant.parse("rocm6.1"))
    rocm_build = Installed(
        {"torch": ["2.4.1+rocm6.1"], "torchvision": ["0.19.1+rocm6.1"]}, "2.4.1+rocm6.1", None
    )
    assert differences(rocm, rocm_build, CU121) == []
