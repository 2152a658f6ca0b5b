"""Judging one torch release's builds for a machine: platform, driver floors, kernels for each GPU.

Pure: no I/O. The resolver (resolve.py) walks releases and keeps the verdicts as candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from gpusetup.profiles.model import Profiles, TorchRelease
from gpusetup.rules.pytorch import build_supports_device, rules_for
from gpusetup.versions import (
    CPU_BUILD,
    BuildVariant,
    ComputeCapability,
    CudaVersion,
    DriverVersion,
)


@dataclass(frozen=True)
class Machine:
    """What the resolver needs to know about the target, detected or given for another machine."""

    python: str  # 3.11, or the full 3.14.1 (checked against each wheel's Requires-Python)
    os: str = "linux"  # linux, windows, darwin
    arch: str = "x86_64"  # x86_64, aarch64, arm64
    driver: Optional[DriverVersion] = None
    driver_cuda: Optional[CudaVersion] = None
    capabilities: Tuple[ComputeCapability, ...] = ()

    @property
    def platform(self) -> str:
        if self.os == "windows":
            return "win_amd64"
        if self.os == "darwin":
            return "macos_arm64" if self.arch in ("arm64", "aarch64") else "macos_x86_64"
        return f"linux_{'aarch64' if self.arch in ('aarch64', 'arm64') else 'x86_64'}"

    @property
    def is_aarch64_linux(self) -> bool:
        return self.platform == "linux_aarch64"


@dataclass(frozen=True)
class Candidate:
    torch: str
    variant: BuildVariant
    accepted: bool
    reason: str
    preferred: bool = False  # meets the toolkit's own driver, not only minor-version compatibility


def platform_variants(release: TorchRelease, machine: Machine) -> List[BuildVariant]:
    if machine.os == "darwin":
        return [CPU_BUILD]
    if machine.is_aarch64_linux:
        return [*release.aarch64.archs, CPU_BUILD]
    if machine.os == "windows":
        return [v for v in release.variants if not v.is_rocm]
    return list(release.variants)


def variant_candidates(
    release: TorchRelease, cuda: Optional[BuildVariant], machine: Machine, profiles: Profiles
) -> List[Candidate]:
    """cuda None is auto: every CUDA build of the platform, newest first (CPU alone on macOS)."""
    available = platform_variants(release, machine)
    if cuda is None:
        wanted = sorted((v for v in available if v.is_cuda), reverse=True)
        if machine.os == "darwin":
            wanted = [CPU_BUILD]
    else:
        wanted = [cuda]
    result = []
    for variant in wanted:
        if (
            cuda is None
            and not release.variant_confirmed(variant)
            and variant != release.default_build(machine.platform)
        ):
            result.append(
                Candidate(
                    release.torch,
                    variant,
                    False,
                    f"{variant}: not confirmed for torch {release.torch} (ask for it with --cuda {variant})",
                )
            )
            continue
        if variant not in available:
            result.append(
                Candidate(
                    release.torch,
                    variant,
                    False,
                    f"{variant}: not published for torch {release.torch} on {machine.platform}",
                )
            )
            continue
        result.append(_judge(release, variant, machine, profiles))
    return result


def _judge(
    release: TorchRelease, variant: BuildVariant, machine: Machine, profiles: Profiles
) -> Candidate:
    candidate = _judge_build(release, variant, machine, profiles)
    if candidate.accepted and not release.variant_confirmed(variant):
        note = f"; {variant} for torch {release.torch} is not confirmed in the profiles (the download index was not checked)"
        return Candidate(
            candidate.torch, variant, True, candidate.reason + note, candidate.preferred
        )
    return candidate


def _judge_build(
    release: TorchRelease, variant: BuildVariant, machine: Machine, profiles: Profiles
) -> Candidate:
    cuda = variant.cuda
    if cuda is None:
        return Candidate(release.torch, variant, True, f"{variant}: requested")
    toolkit = profiles.toolkit(cuda)
    os_name = "windows" if machine.os == "windows" else "linux"
    floor = toolkit.minor_compat.for_os(os_name) if toolkit else None
    full = toolkit.driver.for_os(os_name) if toolkit and toolkit.version == cuda else None
    driver = machine.driver
    if driver is not None and floor is not None and driver < floor:
        return Candidate(release.torch, variant, False, f"{variant}: driver {driver} < {floor}")
    if (
        driver is None
        and machine.driver_cuda is not None
        and machine.driver_cuda.major < cuda.major
    ):
        return Candidate(
            release.torch,
            variant,
            False,
            f"{variant}: the driver supports CUDA {machine.driver_cuda} < {cuda.major}.x",
        )
    missing = _missing_kernels(release, variant, cuda, machine, profiles)
    if missing:
        return Candidate(release.torch, variant, False, f"{variant}: no kernels for {missing}")
    preferred = (driver is not None and full is not None and driver >= full) or (
        driver is None and machine.driver_cuda is not None and machine.driver_cuda >= cuda
    )
    if preferred:
        how = (
            f"driver {driver} >= {full}"
            if driver is not None
            else f"driver supports CUDA {machine.driver_cuda}"
        )
        return Candidate(
            release.torch, variant, True, f"{variant}: {how}, the toolkit's own driver", True
        )
    if driver is None and machine.driver_cuda is None:
        return Candidate(
            release.torch, variant, True, f"{variant}: requested (no driver to check against)"
        )
    return Candidate(
        release.torch,
        variant,
        True,
        f"{variant}: runs under minor-version compatibility only (driver {driver or '?'} < {full or 'its toolkit driver'}): "
        "torch.compile/Triton and PTX JIT may need a newer driver",
    )


def _missing_kernels(
    release: TorchRelease,
    variant: BuildVariant,
    cuda: CudaVersion,
    machine: Machine,
    profiles: Profiles,
) -> str:
    """The first GPU (sm_XY) the build has no kernels for, by torch's rule for this release."""
    archs = profiles.archs(release, variant, "aarch64" if machine.is_aarch64_linux else "x86_64")
    rules = rules_for(release.torch, cuda)
    for cap in machine.capabilities:
        if archs and not build_supports_device(archs, cap, rules):
            return f"sm_{cap.code}"
    return ""
