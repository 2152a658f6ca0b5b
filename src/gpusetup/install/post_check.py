"""After the installer: believe only what the target interpreter reports, then pin what it holds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from gpusetup.errors import CommandFailed
from gpusetup.facts.probe import probe_torch
from gpusetup.facts.pyenv import describe_python
from gpusetup.facts.status import ProbeStatus
from gpusetup.install import plan as decide
from gpusetup.install.installers import InstallerKind
from gpusetup.install.resolve import FAMILY, Plan
from gpusetup.versions import BuildVariant


@dataclass(frozen=True)
class Checked:
    """How an install is checked afterwards: in which interpreter, and what it must hold."""

    python: str
    has_gpu: bool
    pypi_default: BuildVariant  # the build PyPI's wheels without a local tag are
    installer: InstallerKind


def check_installed(plan: Plan, checked: Checked) -> Dict[str, str]:
    """Probe the target: torch imports, every member is the planned version and build, CUDA works."""
    python = checked.python
    facts = probe_torch(python)
    if facts.status != ProbeStatus.OK:
        raise CommandFailed(
            f"after the install, torch does not work in {python}: {facts.status} {facts.error[:120]}",
            f"run gpusetup doctor --python {python}",
        )
    copies: Dict[str, List[str]] = {}
    for dist in facts.distributions:
        if dist.name in FAMILY and os.path.basename(dist.location) != "conda-meta":
            copies.setdefault(dist.name, []).append(dist.version)
    found = decide.Installed(copies, facts.version or "", facts.cuda_build)
    local_tags = checked.installer is not InstallerKind.CONDA
    wrong = decide.differences(plan, found, checked.pypi_default, local_tags)
    if not decide.pins_hold(plan.pins, describe_python(python).installed):
        wrong.append(f"pins: {', '.join(plan.pins)} do not hold")
    if wrong:
        raise CommandFailed(
            f"the installer succeeded, but {python} does not hold the plan: " + "; ".join(wrong),
            "no constraints file was written; run gpusetup doctor --python " + python,
        )
    if plan.variant.is_cuda and checked.has_gpu and not facts.cuda_available:
        raise CommandFailed(
            f"torch {facts.version} is installed but CUDA is not usable: {facts.init_error[:120]}",
            f"run gpusetup doctor --python {python} for the cause and its fix",
        )
    return {name: versions[0] for name, versions in copies.items()}


def write_constraints(path: str, plan: Plan, verified: Dict[str, str]) -> None:
    """Written from what the probe found installed, never from the plan alone."""
    try:
        Path(path).write_text(decide.constraints_text(plan, verified), encoding="utf-8")
    except OSError as err:
        raise CommandFailed(
            f"--constraints {path}: could not write it: {err.strerror}", "torch is installed"
        ) from None
