"""Why nothing fits a request, and the nearest request that would: the resolver's failure message.

Pure: no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gpusetup.errors import MissingRequirement, ResolutionError, UsageError
from gpusetup.install.builds import Candidate, Machine
from gpusetup.profiles.model import Profiles

if TYPE_CHECKING:
    from gpusetup.install.resolve import Request


def nothing_fits(
    request: Request,
    machine: Machine,
    profiles: Profiles,
    candidates: Sequence[Candidate],
    skipped: Sequence[str],
) -> Exception:
    """The error for a request nothing fits: a too-old driver, or what was rejected and what would fit."""
    lowest_floor = min(
        (
            t.minor_compat.for_os("windows" if machine.os == "windows" else "linux")
            for t in profiles.toolkits.values()
        ),
        default=None,
    )
    reasons = [c.reason for c in candidates if not c.accepted][:6] + list(skipped[:3])
    detail = "; ".join(dict.fromkeys(reasons)) or "no release matches"
    if machine.driver is not None and lowest_floor is not None and machine.driver < lowest_floor:
        cuda = f" supports CUDA up to {machine.driver_cuda}" if machine.driver_cuda else ""
        message = f"driver {machine.driver}{cuda}: every torch 2.x CUDA build needs a driver >= {lowest_floor}"
        hint = "upgrade the NVIDIA driver, or install the CPU build with --cuda cpu"
        if request.cuda in ("auto",):
            return MissingRequirement(message, hint)
        return ResolutionError(message, hint)
    hint = _what_would_fit(request, machine, profiles)
    if request.cuda == "auto" and request.torch is None:
        return MissingRequirement(
            f"no torch 2.x CUDA build runs on this machine: {detail}",
            hint or "install the CPU build with --cuda cpu",
        )
    return ResolutionError(f"nothing fits the request: {detail}", hint)


def _what_would_fit(request: Request, machine: Machine, profiles: Profiles) -> str:
    """The plan of the request loosened (any torch, any CUDA, both), as a command to try."""
    from gpusetup.install.resolve import Request, resolve

    for relaxed in (Request(cuda=request.cuda), Request(torch=request.torch), Request()):
        if relaxed == request:
            continue
        try:
            plan = resolve(relaxed, machine, profiles)
        except (UsageError, MissingRequirement):
            continue
        return f"what would fit: torch {plan.torch} with {plan.variant} (gpusetup install --torch {plan.torch} --cuda {plan.variant})"
    return ""
