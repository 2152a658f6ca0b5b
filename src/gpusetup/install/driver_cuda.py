"""`--cuda 12.2` in the user's words: the driver's CUDA as nvidia-smi prints it, not a build's CUDA."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, List, Optional

from gpusetup.errors import UsageError
from gpusetup.profiles.model import Profiles
from gpusetup.versions import CudaVersion

if TYPE_CHECKING:
    from gpusetup.install.resolve import Machine, Plan, Request

DRIVER_VS_BUILD = (
    "the CUDA nvidia-smi prints is the newest the driver runs; a torch build names the CUDA it was "
    "built with (cu126); a driver runs the builds of its CUDA major (newer minors by minor-version "
    "compatibility)"
)


def build_cudas(profiles: Profiles) -> List[CudaVersion]:
    """Every CUDA some release was built for, oldest first."""
    return sorted({v.cuda for r in profiles.releases.values() for v in r.variants if v.cuda})


def nearest_builds(cuda: CudaVersion, profiles: Profiles) -> List[CudaVersion]:
    """The build just below and the one just above (one of them at the ends)."""
    builds = build_cudas(profiles)
    below = [b for b in builds if b < cuda]
    above = [b for b in builds if b > cuda]
    return ([below[-1]] if below else []) + ([above[0]] if above else [])


def _nearest_text(cuda: CudaVersion, profiles: Profiles) -> str:
    return "nearest builds: " + ", ".join(str(b) for b in nearest_builds(cuda, profiles))


def driver_cuda_request(text: str, profiles: Profiles) -> Optional[CudaVersion]:
    """A dotted CUDA that no build has but a driver can report (12.2); None for anything else.

    A value that no CUDA release can be (12.99, 10.2 with no build of its major) is one line, exit 2."""
    raw = text.strip().lower()
    if not re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+)?", raw):
        return None
    cuda = CudaVersion.parse(raw)
    builds = build_cudas(profiles)
    if cuda in builds:
        return None  # an exact build: the resolver's own path
    known = sorted({*builds, *profiles.toolkits})
    same_major = [v for v in known if v.major == cuda.major]
    if not any(b.major == cuda.major for b in builds):
        raise UsageError(
            f"--cuda {text}: no PyTorch 2.x build for CUDA {cuda.major}.x; {_nearest_text(cuda, profiles)}",
            DRIVER_VS_BUILD,
        )
    if cuda > max(same_major):
        raise UsageError(
            f"--cuda {text}: no CUDA {cuda} is known (CUDA {cuda.major}.x goes to {max(same_major)} "
            f"in the profiles); {_nearest_text(cuda, profiles)}",
            DRIVER_VS_BUILD,
        )
    return cuda


def plan_for_driver_cuda(
    request: Request, machine: Machine, profiles: Profiles, cuda: CudaVersion
) -> Plan:
    """Plan as --cuda auto does for a driver whose CUDA is `cuda`, and say so in the plan."""
    from gpusetup.install.resolve import resolve

    detected = machine.driver_cuda
    keep_driver = detected == cuda  # else the claim replaces the driver (as --driver would)
    planned_for = dataclasses.replace(
        machine, driver_cuda=cuda, driver=machine.driver if keep_driver else None
    )
    plan = resolve(dataclasses.replace(request, cuda="auto"), planned_for, profiles)
    notes = [
        (
            f"--cuda {request.cuda}: read as the driver's CUDA (nvidia-smi's \"CUDA Version\"); no "
            f"torch build is made with CUDA {cuda} ({_nearest_text(cuda, profiles)}), so this is the "
            f"newest build a CUDA {cuda} driver runs: {plan.variant}"
        )
    ]
    if not keep_driver and (detected is not None or machine.driver is not None):
        driver = f"driver {machine.driver}" if machine.driver else "the driver"
        supports = f" (supports CUDA {detected})" if detected else ""
        notes.append(f"{driver}{supports} set aside: planned for CUDA {cuda} as asked")
    return dataclasses.replace(plan, reasons=[*notes, *plan.reasons])
