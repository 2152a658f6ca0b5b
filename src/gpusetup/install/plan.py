"""install's decisions around the resolver: the machine to plan for, idempotency, output formats.

Pure: facts and plans in, values out. Running the installer lives in runner.py.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from packaging.requirements import Requirement

from gpusetup.errors import UsageError
from gpusetup.facts.model import DriverFacts, GpuFacts
from gpusetup.facts.pyenv import PythonEnv
from gpusetup.facts.status import NvmlStatus
from gpusetup.install.installers import CONDA_CHANNEL_BASE, split_conda
from gpusetup.install.resolve import Machine, Plan
from gpusetup.plumbing.codec import TextEnum
from gpusetup.versions import (
    BuildVariant,
    ComputeCapability,
    DriverVersion,
    optional_cuda,
    optional_driver,
)

INSTALL_SCHEMA = "gpusetup.install/1"


class OutputFormat(TextEnum):
    """--format: the installer's command, or a file another tool reads (each in _FORMATTERS)."""

    COMMAND = "command"  # the installer strategy's argv
    REQUIREMENTS = "requirements"
    UV = "uv"
    CONDA = "conda"


FORMATS = tuple(f.value for f in OutputFormat)
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
    detected_driver = optional_driver(driver.version) if driver.nvml == NvmlStatus.OK else None
    drv = DriverVersion.parse(flags.driver) if flags.driver is not None else detected_driver
    cuda = (
        optional_cuda(driver.cuda_version)
        if flags.driver is None and driver.nvml == NvmlStatus.OK
        else None
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


def build_matches(
    name: str,
    have: str,
    version: str,
    variant: Optional[BuildVariant],
    default_build: Optional[BuildVariant],
) -> bool:
    """Whether an installed version (2.4.1+cu121, or 2.4.1 from the registry) is the planned build.

    default_build: what a wheel without a local tag is, the registry's build for the target platform
    (TorchRelease.default_build: CPU on Windows, macOS and Linux aarch64 up to 2.10).
    variant and default_build None: the build is not told by the version (conda packages).
    """
    base, _, local = have.partition("+")
    if base != version:
        return False
    build = local or _tag(default_build)  # a wheel without a local tag is the registry's build
    return name == "torchaudio" or build == _tag(variant)


def _tag(variant: Optional[BuildVariant]) -> str:
    return "" if variant is None else str(variant)


def already_installed(plan: Plan, installed: Dict[str, str], default_build: BuildVariant) -> bool:
    """Whether every planned package is installed at the planned version and build, within the pins."""
    if not pins_hold(plan.pins, installed):
        return False
    for spec in plan.packages:
        name, version = spec.split("==", 1)
        have = installed.get(name)
        if have is None or not build_matches(name, have, version, plan.variant, default_build):
            return False
    return True


@dataclass(frozen=True)
class Installed:
    """The family as the target interpreter sees it after an install (from the doctor probe)."""

    copies: Dict[str, List[str]]  # every installed version of each member, sys.path order
    imported: str = ""  # torch.__version__
    cuda_build: Optional[str] = None  # torch.version.cuda: 12.4, or None for a CPU build


def differences(
    plan: Plan, found: Installed, pypi_default: BuildVariant, local_tags: bool = True
) -> List[str]:
    """What the target holds that the plan did not ask for, one line each; [] when it is the plan.

    local_tags: wheels carry the build in the version (2.4.1+cu121); conda packages do not, so for
    them the build is told by torch.version.cuda alone.
    """
    lines = []
    for spec in plan.packages:
        name, version = spec.split("==", 1)
        want = f"{version}+{plan.variant}" if local_tags else version
        copies = found.copies.get(name, [])
        if not copies:
            lines.append(f"{name}: not installed, planned {want}")
            continue
        if local_tags:
            same = build_matches(name, copies[0], version, plan.variant, pypi_default)
        else:
            same = build_matches(name, copies[0].partition("+")[0], version, None, None)
        if not same:
            lines.append(f"{name}: installed {copies[0]}, planned {want}")
        if len(set(copies)) > 1:
            lines.append(f"{name}: {len(copies)} copies on sys.path ({', '.join(copies)})")
    torch_dist = (found.copies.get("torch") or [""])[0]
    if found.imported and torch_dist and found.imported != torch_dist:
        lines.append(f"torch: imports as {found.imported}, its metadata says {torch_dist}")
    want_cuda = str(plan.variant.cuda) if plan.variant.cuda else None
    if not plan.variant.is_rocm and (found.cuda_build or None) != want_cuda:
        lines.append(
            f"torch: built for CUDA {found.cuda_build or 'none (a CPU build)'}, planned {plan.variant}"
        )
    return lines


def changes(plan: Plan, installed: Dict[str, str]) -> List[str]:
    """Human lines: what an install would replace or add."""
    lines = []
    for spec in plan.packages:
        name, version = spec.split("==", 1)
        target = f"{version}+{plan.variant}"
        have = installed.get(name)
        lines.append(f"{name}: {have} -> {target}" if have else f"{name}: (none) -> {target}")
    return lines


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
    """The plan as a file another tool reads (--format); "command" is the installer's own argv."""
    formatter = _FORMATTERS.get(OutputFormat(fmt)) if fmt in FORMATS else None
    if formatter is None:
        raise UsageError(f"--format {fmt}: unknown format", "one of " + ", ".join(FORMATS))
    return formatter(plan, python_version)


def _requirements(plan: Plan, python_version: str) -> str:
    return "\n".join([f"--index-url {plan.index_url}", *plan.requirements]) + "\n"


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
    """environment.yml with full channel URLs (immune to a .condarc channel_alias) and nodefaults."""
    lines = [f"name: torch-{plan.torch}-{plan.variant}"]
    if plan.conda is not None and plan.conda[0] != "-c":  # the pytorch channel (2.0 to 2.5.1)
        channels, specs = split_conda(plan.conda)
        lines += [
            "channels:",
            *[f"  - {CONDA_CHANNEL_BASE}/{c}" for c in channels],
            "  - nodefaults",
            "dependencies:",
            f"  - python={python_version}",
        ]
        lines += [f"  - {s}" for s in [*specs, *plan.pins]]
    else:
        lines += [
            "channels:",
            f"  - {CONDA_CHANNEL_BASE}/conda-forge",
            "  - nodefaults",
            "dependencies:",
            f"  - python={python_version}",
            "  - pip",
            "  - pip:",
            f"    - --index-url {plan.index_url}",
            *[f"    - {p}" for p in plan.requirements],
        ]
    return "\n".join(lines) + "\n"


# The text formats, one function each (a new format: a member of OutputFormat, its entry here, and
# its one-index test in tests/test_install_formats.py).
_FORMATTERS: Dict[OutputFormat, Callable[[Plan, str], str]] = {
    OutputFormat.REQUIREMENTS: _requirements,
    OutputFormat.UV: lambda plan, _python: _uv_snippet(plan),
    OutputFormat.CONDA: _environment_yml,
}
