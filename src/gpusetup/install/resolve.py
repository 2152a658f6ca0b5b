"""The resolver: request + machine facts + profiles -> an install plan, with a reason for each choice.

Pure: no I/O. `auto` picks the newest CUDA variant the driver can run that carries kernels (or
compatible PTX, by torch's own rule) for every GPU; variants whose toolkit driver the machine meets
rank above those it runs only under minor-version compatibility.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from gpusetup.errors import ResolutionError, UsageError
from gpusetup.install.builds import Candidate as Candidate
from gpusetup.install.builds import Machine as Machine
from gpusetup.install.builds import variant_candidates
from gpusetup.install.conda_args import conda_args
from gpusetup.install.nothing_fits import nothing_fits
from gpusetup.profiles.companions import python_admitted
from gpusetup.profiles.model import Profiles, TorchRelease
from gpusetup.versions import BuildVariant, CudaVersion

FAMILY = ("torch", "torchvision", "torchaudio")


@dataclass(frozen=True)
class Request:
    torch: Optional[str] = None  # 2.1, 2.1.*, >=2.3, 2.4.1; None = newest that fits
    cuda: str = "auto"  # auto, cpu, 11.8, cu118, rocm6.1
    packages: Optional[Tuple[str, ...]] = None  # None = every family member the release has
    installer: str = "pip"  # pip, uv, conda
    index_url: Optional[str] = None  # a mirror that replaces the PyTorch index


@dataclass(frozen=True)
class Plan:
    torch: str
    variant: BuildVariant
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
    if re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", raw):
        return SpecifierSet(f"=={raw}")
    series = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(?:\.\*)?", raw)
    if series:
        return SpecifierSet(f"=={series.group(1)}.*")
    try:
        return SpecifierSet(raw)
    except InvalidSpecifier:
        raise UsageError(
            f"--torch {text}: not a version or range", "examples: 2.4.1, 2.1, 2.1.*, '>=2.3'"
        ) from None


def parse_cuda_request(text: str) -> Optional[BuildVariant]:
    """cpu, rocmX.Y or a CUDA variant tag (11.8 and cu118 both give cu118); None for auto."""
    raw = text.strip().lower()
    if raw == "auto":
        return None
    with contextlib.suppress(ValueError):
        return BuildVariant.parse(raw)  # cpu, cu121, rocm6.1 as the tag is written
    try:
        return BuildVariant.for_cuda(CudaVersion.parse(raw))  # 11.8, 12.4.1
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
        problem = _release_problem(release, machine) or _companion_problem(
            release, request, machine, profiles
        )
        if problem:
            skipped.append(f"{release.torch}: {problem}")
            continue
        options = variant_candidates(release, cuda, machine, profiles)
        candidates += options
        accepted = [c for c in options if c.accepted]
        if accepted:
            best = max(accepted, key=lambda c: (c.preferred, c.variant))
            return _plan(release, best, candidates, skipped, request, machine, profiles)
    raise nothing_fits(request, machine, profiles, candidates, skipped)


def _check_cuda_request(
    cuda: Optional[BuildVariant], text: str, machine: Machine, profiles: Profiles
) -> None:
    """auto needs a driver to choose for; an explicit CUDA must be one some release was built for."""
    if (
        cuda is None
        and machine.driver is None
        and machine.driver_cuda is None
        and machine.os != "darwin"
    ):
        raise UsageError(
            "--cuda auto needs a driver to choose for, and none was detected",
            "plan for another machine with --driver VERSION (and --arch sm_XX), or pick --cuda 12.6 / --cuda cpu",
        )
    if (
        cuda is not None
        and cuda.cuda is not None
        and not any(cuda in r.variants for r in profiles.releases.values())
    ):
        known = sorted({v.cuda for r in profiles.releases.values() for v in r.variants if v.cuda})
        raise UsageError(
            f"--cuda {text}: no PyTorch 2.x build for CUDA {cuda.cuda}; builds exist for "
            + ", ".join(map(str, known)),
            "for the driver's CUDA (nvidia-smi's \"CUDA Version\") write it dotted: --cuda "
            f"{cuda.cuda}; a build tag (cu126) names the CUDA torch was built with",
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
    if not python_admitted(release.requires_python, machine.python):
        return f"torch {release.torch} requires Python {release.requires_python}"
    if machine.platform not in release.platforms:
        return f"no wheel for {machine.platform}"
    return ""


def _companion_problem(
    release: TorchRelease, request: Request, machine: Machine, profiles: Profiles
) -> str:
    """A wanted companion whose own Requires-Python or wheel tags exclude the target Python."""
    for name in _wanted(release, request):
        version = release.companions.get(name)
        entry = profiles.companion(name, version) if version else None
        if entry is not None and not entry.runs_on(machine.python):
            needs = entry.python or "its wheel tags"
            return f"{name} {version} does not install on Python {machine.python} ({entry.wheels or 'requires'} {needs})"
    return ""


def _wanted(release: TorchRelease, request: Request) -> List[str]:
    """The companions asked for: the requested ones, else every confirmed one the release has."""
    if request.packages is not None:
        return [p for p in request.packages if p != "torch"]
    return [n for n in release.companions if release.companion_confirmed(n)]


def _packages(release: TorchRelease, request: Request, profiles: Profiles) -> List[str]:
    wanted = ["torch", *_wanted(release, request)]
    for name in wanted:
        if name not in FAMILY:
            raise UsageError(
                f"--packages: unknown package {name!r}",
                "choose from torch, torchvision, torchaudio",
            )
        if name != "torch" and name not in release.companions:
            newest = profiles.newest_companion(name)
            raise ResolutionError(
                f"no {name} release pairs with torch {release.torch}",
                f"the newest {name} in the profiles is {newest.version} (torch{newest.torch or ': any'}); "
                f"drop it with --packages, or pick an older --torch"
                if newest is not None
                else "drop it with --packages torch, or pick an older --torch",
            )
    if "torch" not in wanted:
        wanted.insert(0, "torch")
    versions = {"torch": release.torch, **release.companions}
    return [f"{name}=={versions[name]}" for name in FAMILY if name in wanted]


def _choice_reasons(
    release: TorchRelease,
    candidates: List[Candidate],
    skipped: List[str],
    request: Request,
    profiles: Profiles,
) -> List[str]:
    """Why this release: what was skipped, what newer releases lacked, what is unconfirmed."""
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
    return reasons


def _plan(
    release: TorchRelease,
    best: Candidate,
    candidates: List[Candidate],
    skipped: List[str],
    request: Request,
    machine: Machine,
    profiles: Profiles,
) -> Plan:
    packages = _packages(release, request, profiles)
    index = request.index_url or f"{profiles.index_base}/{best.variant}"
    reasons = _choice_reasons(release, candidates, skipped, request, profiles)
    reasons.append(best.reason)
    if request.packages is None:  # an explicit torchaudio it lacks is an error in _packages
        from gpusetup.install.missing_companions import missing_torchaudio

        audio = missing_torchaudio(release, profiles)
        reasons += [audio] if audio else []
    reasons += [
        f"{name} {release.companions[name]}: not confirmed for torch {release.torch} in the profiles"
        for name in _wanted(release, request)
        if not release.companion_confirmed(name)
    ]
    pins = _numpy_pins(release, profiles, reasons)
    reasons.append(
        f"index {index}: --index-url only; no PIP_*/UV_*/CONDA_* variable, config, constraints or "
        "requirements file reaches the installer, so no package can come from another index"
    )
    if machine.capabilities:
        reasons.append(
            "kernels for " + ", ".join(sorted({f"sm_{c.code}" for c in machine.capabilities}))
        )
    conda = _conda(release, best.variant, packages, request, profiles, reasons)
    return Plan(release.torch, best.variant, index, packages, reasons, candidates, conda, pins)


def _numpy_pins(release: TorchRelease, profiles: Profiles, reasons: List[str]) -> List[str]:
    """numpy<2 beside a torch built for NumPy 1.x (its reason appended to reasons)."""
    rule = profiles.numpy
    if rule is None or not rule.torch_needs_numpy1(release.torch):
        return []
    reasons.append(
        f"numpy<2: torch {release.torch} wheels were built for NumPy 1.x; NumPy 2 works from "
        f"torch {rule.numpy2_from} ({rule.source})"
    )
    return ["numpy<2"]  # the official commands predate NumPy 2


def _conda(
    release: TorchRelease,
    variant: BuildVariant,
    packages: List[str],
    request: Request,
    profiles: Profiles,
    reasons: List[str],
) -> Optional[List[str]]:
    """The conda tail, or None where there is none and conda was not asked for (else the error)."""
    try:
        conda: Optional[List[str]] = conda_args(release, variant, packages, profiles)
    except ResolutionError:
        if request.installer == "conda":
            raise
        conda = None
    if request.installer == "conda" and release.conda is None:
        end = profiles.conda_channel
        reasons.append(
            f"conda: the pytorch channel stops at {end.last if end else 'an older release'}"
            f" ({end.source if end else 'see profiles'}); conda-forge's own build (its CUDA variants "
            "differ from wheels; composed, unconfirmed)"
        )
    return conda
