"""The torch build itself: releases with a known defect (profile data), and its nvidia-* wheels."""

from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional

from gpusetup.doctor.checks.fix_commands import REINSTALL, WHEEL_OF_LIBRARY
from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import Unstated
from gpusetup.versions import optional_cuda


@check(known_broken_build="this torch release has a known defect that a later release fixes")
def known_broken(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not torch.version:
        return
    for build in ctx.profiles.known_broken:
        if build.matches(torch.version, ctx.os_name):
            yield Finding(
                "known-broken-build",
                Severity.ERROR,
                f"torch {torch.version} has a known defect, fixed in {build.fixed_in}: {build.symptom}",
                f"Move to torch {build.fixed_in} or later: {REINSTALL} --python "
                f"{torch.python or 'python'}"
                + (
                    f"   (or, staying on {torch.version}: {build.workaround})"
                    if build.workaround
                    else ""
                ),
                {
                    "torch": torch.version,
                    "defect": build.id,
                    "fixed_in": build.fixed_in,
                    "source": build.source,
                },
            )


# The wheels a split CUDA build of torch loads at import (torch/__init__.py _preload_cuda_deps), by CUDA
# major: cu11/cu12 wheels carry a -cuNN suffix, CUDA 13's mostly do not (seen in pytorch/pytorch#178196).
# Every split build since 2.0 requires these two; the others are named by the import error.
_CORE = ("cublas", "cudnn")
_PRELOAD = re.compile(r"(lib\w+)\.so\.\*\[0-9\]\S* not found in the system path")


def _wheel(part: str, major: int) -> str:
    suffix = f"-cu{major}" if major < 13 or part == "cudnn" else ""
    return f"nvidia-{part}{suffix}"


def _present(wheels: Dict[str, str], part: str, major: int) -> bool:
    return _wheel(part, major) in wheels or f"nvidia-{part}-cu{major}" in wheels


def _cuda_major(ctx: Context) -> Optional[int]:
    """The build's CUDA major: torch.version.cuda, else (import failed) PyPI's default for the release."""
    torch = ctx.facts.torch
    build = optional_cuda(torch.cuda_build)
    if build is not None:
        return build.major
    version = torch.version or next(
        (d.version for d in torch.distributions if d.name == "torch"), None
    )
    release = ctx.profiles.releases.get((version or "").split("+")[0])
    cuda = release.pypi_default.cuda if release else None
    return cuda.major if cuda else None


@check(nvidia_wheels_missing="a CUDA build of torch whose nvidia-* library wheels are missing")
def nvidia_wheels(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    error = _PRELOAD.search(torch.error or "")
    major = _cuda_major(ctx)
    missing: List[str] = []
    if error:
        lib = error.group(1)
        part = WHEEL_OF_LIBRARY.get(lib, lib.replace("lib", "", 1))
        missing = [_wheel(part, major) if major else f"nvidia-{part}-cu<major>"]
    elif major and ctx.torch_ok and ctx.stated(Unstated.PACKAGES):
        wheels = torch.nvidia_wheels
        split = any(name.startswith("nvidia-") and name != "nvidia-ml-py" for name in wheels)
        if split:  # a build that loads its libraries from wheels: each core wheel must be there
            missing = [_wheel(p, major) for p in _CORE if not _present(wheels, p, major)]
    if not missing:
        return
    version = torch.version or next(
        (d.version for d in torch.distributions if d.name == "torch"), "<the torch version>"
    )
    yield Finding(
        "nvidia-wheels-missing",
        Severity.ERROR,
        f"torch {torch.version or ''} is a CUDA build that loads its CUDA libraries from nvidia-* wheels, "
        f"and {', '.join(missing)} is not installed" + (f": '{error.group(0)}'" if error else ""),
        f"Reinstall torch with its dependencies (an installer that skipped them, e.g. one lock file "
        f"for all platforms, leaves them out): {torch.python or 'python'} -m pip install --force-reinstall "
        f"torch=={version}   (or: {REINSTALL})",
        {
            "missing": missing,
            "installed": sorted(torch.nvidia_wheels),
            "error": torch.error or None,
        },
    )
