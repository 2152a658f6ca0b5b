"""install's decisions around the resolver: the machine to plan for, idempotency, output formats.

Pure: facts and plans in, values out. Running the installer lives in runner.py.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from packaging.requirements import Requirement

from gpusetup.errors import UsageError
from gpusetup.facts.model import DriverFacts, GpuFacts
from gpusetup.facts.pyenv import PythonEnv
from gpusetup.resolve import Machine, Plan
from gpusetup.versions import (
    ComputeCapability,
    DriverVersion,
    optional_cuda,
    optional_driver,
)

INSTALL_SCHEMA = "gpusetup.install/1"
FORMATS = ("command", "requirements", "uv", "conda")
_PLATFORMS = {
    "linux_x86_64": ("linux", "x86_64"),
    "linux_aarch64": ("linux", "aarch64"),
    "win_amd64": ("windows", "x86_64"),
    "macos_arm64": ("darwin", "arm64"),
    "macos_x86_64": ("darwin", "x86_64"),
}


@dataclass(frozen=True)
class Overrides:
    """Planning flags for another machine (a Docker build on a CPU-only builder)."""

    driver: Optional[str] = None
    archs: Sequence[str] = ()
    python_version: Optional[str] = None
    platform: Optional[str] = None


def plan_machine(
    env: PythonEnv, driver: DriverFacts, gpus: Sequence[GpuFacts], flags: Overrides
) -> Machine:
    """The machine to resolve for: detected facts, each replaceable by a planning flag."""
    os_name, arch = env.os, env.arch
    if flags.platform is not None:
        if flags.platform not in _PLATFORMS:
            raise UsageError(
                f"--platform {flags.platform}: unknown platform", "one of " + ", ".join(_PLATFORMS)
            )
        os_name, arch = _PLATFORMS[flags.platform]
    python = env.full_version or env.version  # the full 3.14.1: Requires-Python can exclude a patch
    if flags.python_version is not None:
        parts = flags.python_version.split(".")
        if len(parts) < 2 or not all(re.fullmatch("[0-9]+", p) for p in parts):
            raise UsageError(
                f"--python-version {flags.python_version}: not a Python version", "write it as 3.11"
            )
        python = ".".join(parts[:3])
    detected_driver = optional_driver(driver.version) if driver.nvml == "ok" else None
    drv = DriverVersion.parse(flags.driver) if flags.driver is not None else detected_driver
    cuda = (
        optional_cuda(driver.cuda_version) if flags.driver is None and driver.nvml == "ok" else None
    )
    if flags.archs:
        caps = tuple(ComputeCapability.parse(a) for a in flags.archs)
    else:
        caps = tuple(
            ComputeCapability.parse(g.compute_capability) for g in gpus if g.compute_capability
        )
    return Machine(
        python=python, os=os_name, arch=arch, driver=drv, driver_cuda=cuda, capabilities=caps
    )


def pins_hold(pins: Sequence[str], installed: Dict[str, str]) -> bool:
    """Whether each pinned package is absent or installed within its pin (numpy 1.26.4 for numpy<2)."""
    for pin in pins:
        requirement = Requirement(pin)
        have = installed.get(requirement.name)
        if have is not None and not requirement.specifier.contains(have, prereleases=True):
            return False
    return True


def already_installed(plan: Plan, installed: Dict[str, str], default_build: str) -> bool:
    """Whether every planned package is installed at the planned version and build, within the pins.

    default_build: what a wheel without a local tag is, the registry's build for the target platform
    (TorchRelease.default_build: CPU on Windows, macOS and Linux aarch64 up to 2.10).
    """
    if not pins_hold(plan.pins, installed):
        return False
    for spec in plan.packages:
        name, version = spec.split("==", 1)
        have = installed.get(name)
        if have is None:
            return False
        base, _, local = have.partition("+")
        if base != version:
            return False
        build = local or default_build  # a wheel without a local tag is the registry's build
        if (
            name != "torchaudio"
            and build != plan.variant
            and not (plan.variant == "cpu" and build == "cpu")
        ):
            return False
    return True


def changes(plan: Plan, installed: Dict[str, str]) -> List[str]:
    """Human lines: what an install would replace or add."""
    lines = []
    for spec in plan.packages:
        name, version = spec.split("==", 1)
        target = f"{version}+{plan.variant}"
        have = installed.get(name)
        lines.append(f"{name}: {have} -> {target}" if have else f"{name}: (none) -> {target}")
    return lines


def pip_argv(python: str, plan: Plan) -> List[str]:
    return [python, "-m", "pip", "install", *plan.requirements, "--index-url", plan.index_url]


def uv_argv(uv: str, python: str, plan: Plan) -> List[str]:
    return [
        uv,
        "pip",
        "install",
        "--python",
        python,
        *plan.requirements,
        "--index-url",
        plan.index_url,
    ]


def conda_argv(conda: str, prefix: str, plan: Plan) -> List[str]:
    assert plan.conda is not None
    return [conda, "install", "-y", "--prefix", prefix, *plan.conda, *plan.pins]


def shell_line(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def constraints_text(plan: Plan, installed: Optional[Dict[str, str]] = None) -> str:
    """pip constraints pinning the family to its build, so `pip install x -c FILE` cannot swap it."""
    lines = [f"# gpusetup: torch family pinned to {plan.variant} ({plan.index_url})"]
    for spec in plan.packages:
        name, version = spec.split("==", 1)
        exact = (installed or {}).get(name) or f"{version}+{plan.variant}"
        lines.append(f"{name}=={exact}")
    return "\n".join([*lines, *plan.pins]) + "\n"


def render_format(plan: Plan, fmt: str, python_version: str) -> str:
    if fmt == "requirements":
        return "\n".join([f"--index-url {plan.index_url}", *plan.requirements]) + "\n"
    if fmt == "uv":
        return _uv_snippet(plan)
    if fmt == "conda":
        return _environment_yml(plan, python_version)
    raise UsageError(f"--format {fmt}: unknown format", "one of " + ", ".join(FORMATS))


def _uv_snippet(plan: Plan) -> str:
    name = f"pytorch-{plan.variant}"
    deps = ", ".join(f'"{p}"' for p in plan.requirements)
    lines = [
        f"# pyproject.toml: dependencies = [{deps}]",
        "[[tool.uv.index]]",
        f'name = "{name}"',
        f'url = "{plan.index_url}"',
        "explicit = true",
        "",
        "[tool.uv.sources]",
    ]
    lines += [f'{p.split("==")[0]} = [{{ index = "{name}" }}]' for p in plan.packages]
    return "\n".join(lines) + "\n"


def _environment_yml(plan: Plan, python_version: str) -> str:
    lines = [f"name: torch-{plan.torch}-{plan.variant}"]
    if plan.conda is not None and plan.conda[0] != "-c":  # the pytorch channel (2.0 to 2.5.1)
        channels = [plan.conda[i + 1] for i, a in enumerate(plan.conda) if a == "-c"]
        specs = [
            a
            for i, a in enumerate(plan.conda)
            if a != "-c" and (i == 0 or plan.conda[i - 1] != "-c")
        ]
        lines += [
            "channels:",
            *[f"  - {c}" for c in channels],
            "dependencies:",
            f"  - python={python_version}",
        ]
        lines += [f"  - {s}" for s in [*specs, *plan.pins]]
    else:
        lines += [
            "channels:",
            "  - conda-forge",
            "dependencies:",
            f"  - python={python_version}",
            "  - pip",
            "  - pip:",
            f"    - --index-url {plan.index_url}",
            *[f"    - {p}" for p in plan.requirements],
        ]
    return "\n".join(lines) + "\n"
