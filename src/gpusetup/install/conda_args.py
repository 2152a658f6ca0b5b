"""The conda/mamba argument tail of a plan: the pytorch channel up to 2.5.1, conda-forge after.

Pure: no I/O. The plan keeps it (Plan.conda) for --installer conda and --format conda.
"""

from __future__ import annotations

from typing import List

from gpusetup.errors import ResolutionError
from gpusetup.profiles.model import Profiles, TorchRelease
from gpusetup.versions import BuildVariant


def conda_args(
    release: TorchRelease, variant: BuildVariant, packages: List[str], profiles: Profiles
) -> List[str]:
    """The conda/mamba arguments after `install` for this build; ResolutionError where none exists."""
    names = [p.split("==")[0] for p in packages]
    if variant.is_rocm:
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
        if variant.cuda is None:
            return [*specs, "cpuonly", "-c", "pytorch"]
        cuda = str(variant.cuda)
        if cuda not in release.conda.cuda:
            raise ResolutionError(
                f"the pytorch conda channel has no pytorch-cuda={cuda} build of torch {release.torch}",
                "available: " + ", ".join(release.conda.cuda),
            )
        return [*specs, f"pytorch-cuda={cuda}", "-c", "pytorch", "-c", "nvidia"]
    forge = profiles.conda_forge
    if forge is None:
        raise ResolutionError(
            f"no conda build of torch {release.torch} in the profiles",
            "install the wheels with --installer pip",
        )
    # conda-forge numbers torchvision and torchaudio like PyPI: pinned, never left to the solver.
    specs = [f"pytorch=={release.torch}"] + [
        f"{n}=={release.companions[n]}" for n in names if n != "torch"
    ]
    words = forge.args(gpu=not variant.is_cpu)
    if not words:
        raise ResolutionError(
            f"no conda-forge command for a {variant} build in the profiles",
            "install the wheels with --installer pip",
        )
    flags = [w for i, w in enumerate(words) if w == "-c" or (i > 0 and words[i - 1] == "-c")]
    rest = [w for w in words if w not in flags]
    if variant.cuda is None:
        return [*flags, *specs, *rest]
    return [*flags, *specs, *rest, f"cuda-version={variant.cuda}"]
