"""The resolver: request + machine facts + profiles -> an install plan, with a reason for each choice.

Pure: no I/O. `auto` picks the newest CUDA variant the driver can run that carries kernels (or
compatible PTX, by torch's own rule) for every GPU; variants whose toolkit driver the machine meets
rank above those it runs only under minor-version compatibility.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from gpusetup.errors import MissingRequirement, ResolutionError, UsageError
from gpusetup.profiles.model import Profiles, TorchRelease
from gpusetup.rules.pytorch import build_supports_device
from gpusetup.versions import ComputeCapability, CudaVersion, DriverVersion

FAMILY = ("torch", "torchvision", "torchaudio")


@dataclass(frozen=True)
class Machine:
    """What the resolver needs to know about the target, detected or given for another machine."""

    python: str  # 3.11
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
class Request:
    torch: Optional[str] = None  # 2.1, 2.1.*, >=2.3, 2.4.1; None = newest that fits
    cuda: str = "auto"  # auto, cpu, 11.8, cu118, rocm6.1
    packages: Optional[Tuple[str, ...]] = None  # None = every family member the release has
    installer: str = "pip"  # pip, uv, conda
    index_url: Optional[str] = None  # a mirror that replaces the PyTorch index


@dataclass(frozen=True)
class Candidate:
    torch: str
    variant: str
    accepted: bool
    reason: str
    preferred: bool = False  # meets the toolkit's own driver, not only minor-version compatibility


@dataclass(frozen=True)
class Plan:
    torch: str
    variant: str
    index_url: str
    packages: List[str]  # torch==2.0.1, torchvision==0.15.2, ...
    reasons: List[str]
    candidates: List[Candidate] = field(default_factory=list)
    conda: Optional[List[str]] = None  # the conda/mamba argument tail, when the installer is conda
    # Installed alongside the family to keep it working today: numpy<2 beside torch < 2.3.
    pins: List[str] = field(default_factory=list)

    @property
    def requirements(self) -> List[str]:
        """What the installer is asked for: the family, then the pins."""
        return [*self.packages, *self.pins]

    def pip_command(self) -> str:
        """The form of the official previous-versions page: pip install ... --index-url URL."""
        return f"pip install {' '.join(self.packages)} --index-url {self.index_url}"

    def versions(self) -> dict[str, str]:
        return dict(p.split("==", 1) for p in self.packages)


# ---- parsing the request ----------------------------------------------------------------------


def torch_spec(text: Optional[str]) -> Optional[SpecifierSet]:
    """2.1 and 2.1.* mean any 2.1 patch; 2.4.1 means exactly that; >=2.3 is a PEP 440 range."""
    if text is None:
        return None
    raw = text.strip()
    if not raw:
        raise UsageError(
            "--torch: empty version", "examples: 2.4.1, 2.1, 2.1.*, '>=2.3'; or leave it out"
        )
    if re.search(r"[0-9]{10,}", raw):  # int() refuses 4300+ digits; no release part has 10
        raise UsageError(f"--torch {text[:40]}: a version part of 10 or more digits")
    if re.fullmatch(r"\d+\.\d+\.\d+", raw):
        return SpecifierSet(f"=={raw}")
    series = re.fullmatch(r"(\d+(?:\.\d+)?)(?:\.\*)?", raw)
    if series:
        return SpecifierSet(f"=={series.group(1)}.*")
    try:
        return SpecifierSet(raw)
    except InvalidSpecifier:
        raise UsageError(
            f"--torch {text}: not a version or range", "examples: 2.4.1, 2.1, 2.1.*, '>=2.3'"
        ) from None


def parse_cuda_request(text: str) -> str:
    """auto, cpu, rocmX.Y or a CUDA variant tag (11.8 and cu118 both give cu118)."""
    raw = text.strip().lower()
    if raw in ("auto", "cpu"):
        return raw
    if re.fullmatch(r"rocm\d+(\.\d+)*", raw):
        return raw
    try:
        return CudaVersion.parse(raw).tag
    except UsageError:
        raise UsageError(
            f"--cuda {text}: not a CUDA version", "use auto, cpu, 11.8, cu121 or rocm6.1"
        ) from None


# ---- resolution --------------------------------------------------------------------------------


def resolve(request: Request, machine: Machine, profiles: Profiles) -> Plan:
    """The newest release (in the request) with a variant that fits; every candidate is kept."""
    from gpusetup.install.driver_cuda import driver_cuda_request, plan_for_driver_cuda

    driver_cuda = driver_cuda_request(request.cuda, profiles)  # --cuda 12.2: a driver's CUDA
    if driver_cuda is not None:
        return plan_for_driver_cuda(request, machine, profiles, driver_cuda)
    cuda = parse_cuda_request(request.cuda)
    releases = _releases(torch_spec(request.torch), request.torch, profiles)
    _check_cuda_request(cuda, request.cuda, machine, profiles)
    candidates: List[Candidate] = []
    skipped: List[str] = []
    for release in releases:
        problem = _release_problem(release, machine)
        if problem:
            skipped.append(f"{release.torch}: {problem}")
            continue
        options = _variant_candidates(release, cuda, machine, profiles)
        candidates += options
        accepted = [c for c in options if c.accepted]
        if accepted:
            best = max(accepted, key=lambda c: (c.preferred, _variant_order(c.variant)))
            return _plan(release, best, candidates, skipped, request, machine, profiles)
    raise _nothing_fits(request, machine, profiles, candidates, skipped)


def _check_cuda_request(cuda: str, text: str, machine: Machine, profiles: Profiles) -> None:
    """auto needs a driver to choose for; an explicit CUDA must be one some release was built for."""
    if (
        cuda == "auto"
        and machine.driver is None
        and machine.driver_cuda is None
        and machine.os != "darwin"
    ):
        raise UsageError(
            "--cuda auto needs a driver to choose for, and none was detected",
            "plan for another machine with --driver VERSION (and --arch sm_XX), or pick --cuda 12.6 / --cuda cpu",
        )
    if cuda.startswith("cu") and not any(cuda in r.variants for r in profiles.releases.values()):
        known = sorted(
            {v for r in profiles.releases.values() for v in r.variants if v.startswith("cu")},
            key=CudaVersion.parse,
        )
        raise UsageError(
            f"--cuda {text}: no PyTorch 2.x build for CUDA {CudaVersion.parse(cuda)}; builds exist for "
            + ", ".join(str(CudaVersion.parse(v)) for v in known),
            "for the driver's CUDA (nvidia-smi's \"CUDA Version\") write it dotted: --cuda "
            f"{CudaVersion.parse(cuda)}; a build tag (cu126) names the CUDA torch was built with",
        )


def _releases(
    spec: Optional[SpecifierSet], text: Optional[str], profiles: Profiles
) -> List[TorchRelease]:
    ordered = profiles.sorted_releases()
    if spec is None:
        return [r for r in ordered if r.confirmed]
    chosen = [r for r in ordered if spec.contains(r.version, prereleases=True)]
    if not chosen:
        oldest, newest = ordered[-1].torch, ordered[0].torch
        raise UsageError(
            f"--torch {text}: no PyTorch release in the profiles matches",
            f"the profiles cover torch {oldest} to {newest}; gpusetup profiles list shows them",
        )
    return chosen


def _release_problem(release: TorchRelease, machine: Machine) -> str:
    if not release.python.allows(machine.python):
        return f"no wheel for Python {machine.python} (supports {release.python.min}-{release.python.max})"
    if machine.platform not in release.platforms:
        return f"no wheel for {machine.platform}"
    return ""


def _platform_variants(release: TorchRelease, machine: Machine) -> List[str]:
    if machine.os == "darwin":
        return ["cpu"]
    if machine.is_aarch64_linux:
        return [*release.aarch64.archs, "cpu"]
    if machine.os == "windows":
        return [v for v in release.variants if not v.startswith("rocm")]
    return list(release.variants)


def _variant_order(variant: str) -> Tuple[int, int]:
    if variant.startswith("cu"):
        cuda = CudaVersion.parse(variant)
        return (cuda.major, cuda.minor)
    return (-1, 0)


def _variant_candidates(
    release: TorchRelease, cuda: str, machine: Machine, profiles: Profiles
) -> List[Candidate]:
    available = _platform_variants(release, machine)
    if cuda == "auto":
        wanted = sorted(
            (v for v in available if v.startswith("cu")), key=_variant_order, reverse=True
        )
        if machine.os == "darwin":
            wanted = ["cpu"]
    else:
        wanted = [cuda]
    result = []
    for variant in wanted:
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


def _judge(release: TorchRelease, variant: str, machine: Machine, profiles: Profiles) -> Candidate:
    if not variant.startswith("cu"):
        return Candidate(release.torch, variant, True, f"{variant}: requested")
    cuda = CudaVersion.parse(variant)
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
    archs = profiles.archs(release, variant, "aarch64" if machine.is_aarch64_linux else "x86_64")
    for cap in machine.capabilities:
        if archs and not build_supports_device(archs, cap):
            return Candidate(
                release.torch, variant, False, f"{variant}: no kernels for sm_{cap.code}"
            )
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


def _packages(release: TorchRelease, request: Request) -> List[str]:
    wanted = (
        list(request.packages) if request.packages is not None else ["torch", *release.companions]
    )
    for name in wanted:
        if name not in FAMILY:
            raise UsageError(
                f"--packages: unknown package {name!r}",
                "choose from torch, torchvision, torchaudio",
            )
        if name != "torch" and name not in release.companions:
            raise ResolutionError(
                f"no {name} release pairs with torch {release.torch}",
                "torchaudio is in maintenance mode (newest: 2.11.0); drop it with --packages torch,torchvision"
                if name == "torchaudio"
                else "drop it with --packages torch, or pick an older --torch",
            )
    if "torch" not in wanted:
        wanted.insert(0, "torch")
    versions = {"torch": release.torch, **release.companions}
    return [f"{name}=={versions[name]}" for name in FAMILY if name in wanted]


def _plan(
    release: TorchRelease,
    best: Candidate,
    candidates: List[Candidate],
    skipped: List[str],
    request: Request,
    machine: Machine,
    profiles: Profiles,
) -> Plan:
    packages = _packages(release, request)
    index = request.index_url or f"{profiles.index_base}/{best.variant}"
    reasons = [
        f"torch {release.torch}: "
        + (
            "the requested release"
            if request.torch
            else "the newest release that fits this machine"
        )
    ]
    reasons += [f"skipped {s}" for s in skipped[:5]]
    newer = list(dict.fromkeys(c.torch for c in candidates if c.torch != release.torch))
    for version in newer[:3]:
        reasons.append(
            f"not torch {version}: " + "; ".join(c.reason for c in candidates if c.torch == version)
        )
    if len(newer) > 3:
        reasons.append(
            f"not {len(newer) - 3} older releases either ({newer[-1]} to {newer[3]}): --explain lists them"
        )
    newer_unconfirmed = [
        r.torch
        for r in profiles.sorted_releases()
        if not r.confirmed and r.version > release.version
    ]
    if request.torch is None and newer_unconfirmed:
        reasons.append(
            f"newer {', '.join(newer_unconfirmed)}: build matrix not confirmed in the profiles; ask for one with --torch"
        )
    if not release.confirmed:
        reasons.append(
            f"torch {release.torch}: profile data unconfirmed ({release.note or 'see profiles'})"
        )
    reasons.append(best.reason)
    if request.packages is None:  # an explicit torchaudio it lacks is an error in _packages
        from gpusetup.install.companions import missing_torchaudio

        audio = missing_torchaudio(release, profiles)
        reasons += [audio] if audio else []
    pins: List[str] = []
    rule = profiles.numpy
    if rule is not None and rule.torch_needs_numpy1(release.torch):
        pins.append("numpy<2")  # the official commands predate NumPy 2
        reasons.append(
            f"numpy<2: torch {release.torch} wheels were built for NumPy 1.x; NumPy 2 works from "
            f"torch {rule.numpy2_from} ({rule.source})"
        )
    reasons.append(
        f"index {index}: --index-url only; no PIP_*/UV_*/CONDA_* variable, config, constraints or "
        "requirements file reaches the installer, so no package can come from another index"
    )
    if machine.capabilities:
        reasons.append(
            "kernels for " + ", ".join(sorted({f"sm_{c.code}" for c in machine.capabilities}))
        )
    try:
        conda: Optional[List[str]] = _conda_args(release, best.variant, packages)
    except ResolutionError:
        if request.installer == "conda":
            raise
        conda = None
    if request.installer == "conda" and release.conda is None:
        reasons.append(
            "conda: the pytorch channel stops at 2.5.1; conda-forge's own build (its CUDA variants differ from wheels; composed, unconfirmed)"
        )
    return Plan(release.torch, best.variant, index, packages, reasons, candidates, conda, pins)


def _conda_args(release: TorchRelease, variant: str, packages: List[str]) -> List[str]:
    names = [p.split("==")[0] for p in packages]
    if variant.startswith("rocm"):
        raise ResolutionError(
            f"no conda build for {variant}", "install the ROCm wheels with --installer pip"
        )
    if release.conda is not None:
        companions = {
            "torchvision": release.conda.torchvision,
            "torchaudio": release.conda.torchaudio,
        }
        specs = [f"pytorch=={release.torch}"] + [
            f"{n}=={companions[n]}" for n in names if n != "torch"
        ]
        if variant == "cpu":
            return [*specs, "cpuonly", "-c", "pytorch"]
        cuda = str(CudaVersion.parse(variant))
        if cuda not in release.conda.cuda:
            raise ResolutionError(
                f"the pytorch conda channel has no pytorch-cuda={cuda} build of torch {release.torch}",
                "available: " + ", ".join(release.conda.cuda),
            )
        return [*specs, f"pytorch-cuda={cuda}", "-c", "pytorch", "-c", "nvidia"]
    # conda-forge numbers torchvision and torchaudio like PyPI: pinned, never left to the solver.
    specs = [f"pytorch=={release.torch}"] + [
        f"{n}=={release.companions[n]}" for n in names if n != "torch"
    ]
    if variant == "cpu":
        return ["-c", "conda-forge", *specs, "pytorch-cpu"]
    version = CudaVersion.parse(variant)
    return ["-c", "conda-forge", *specs, "pytorch-gpu", f"cuda-version={version}"]


def _nothing_fits(
    request: Request,
    machine: Machine,
    profiles: Profiles,
    candidates: Sequence[Candidate],
    skipped: Sequence[str],
) -> Exception:
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
    for relaxed in (Request(cuda=request.cuda), Request(torch=request.torch), Request()):
        if relaxed == request:
            continue
        try:
            plan = resolve(relaxed, machine, profiles)
        except (UsageError, MissingRequirement):
            continue
        return f"what would fit: torch {plan.torch} with {plan.variant} (gpusetup install --torch {plan.torch} --cuda {plan.variant})"
    return ""
