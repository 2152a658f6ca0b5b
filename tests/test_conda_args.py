"""The conda argument tail of a plan: the pytorch channel, conda-forge, and each build it refuses."""

from __future__ import annotations

import dataclasses

import pytest

from gpusetup.errors import ResolutionError
from gpusetup.install.conda_args import conda_args
from gpusetup.profiles.model import Profiles, TorchRelease
from gpusetup.versions import BuildVariant

FAMILY = ["torch==2.4.1", "torchvision==0.19.1", "torchaudio==2.4.1"]


def test_the_pytorch_channel_names_pytorch_cuda_and_cpuonly(profiles: Profiles) -> None:
    release = profiles.releases["2.4.1"]
    assert release.conda is not None
    cuda = conda_args(release, BuildVariant.parse("cu121"), FAMILY, profiles)
    assert cuda[-5:] == ["pytorch-cuda=12.1", "-c", "pytorch", "-c", "nvidia"]
    cpu = conda_args(release, BuildVariant.parse("cpu"), FAMILY, profiles)
    assert cpu[-3:] == ["cpuonly", "-c", "pytorch"] and cpu[0] == "pytorch==2.4.1"


def test_a_cuda_the_pytorch_channel_lacks_is_refused(profiles: Profiles) -> None:
    release = profiles.releases["2.4.1"]
    assert release.conda is not None and "12.4" in release.conda.cuda
    narrowed = dataclasses.replace(release, conda=dataclasses.replace(release.conda, cuda=["11.8"]))
    with pytest.raises(ResolutionError, match="no pytorch-cuda=12.1 build of torch 2.4.1"):
        conda_args(narrowed, BuildVariant.parse("cu121"), FAMILY, profiles)


def test_rocm_has_no_conda_build(profiles: Profiles) -> None:
    with pytest.raises(ResolutionError, match="no conda build for rocm6.1"):
        conda_args(profiles.releases["2.4.1"], BuildVariant.parse("rocm6.1"), FAMILY, profiles)


def test_conda_forge_without_profiles_data_is_refused(profiles: Profiles) -> None:
    release = _forge_release(profiles)
    bare = dataclasses.replace(profiles, conda_forge=None)
    with pytest.raises(ResolutionError, match=f"no conda build of torch {release.torch}"):
        conda_args(release, BuildVariant.parse("cu126"), [f"torch=={release.torch}"], bare)


def test_conda_forge_without_a_cpu_command_is_refused(profiles: Profiles) -> None:
    release = _forge_release(profiles)
    assert profiles.conda_forge is not None
    no_cpu = dataclasses.replace(
        profiles, conda_forge=dataclasses.replace(profiles.conda_forge, cpu_command="")
    )
    with pytest.raises(ResolutionError, match="no conda-forge command for a cpu build"):
        conda_args(release, BuildVariant.parse("cpu"), [f"torch=={release.torch}"], no_cpu)


def test_conda_forge_pins_the_cuda_version(profiles: Profiles) -> None:
    release = _forge_release(profiles)
    words = conda_args(release, BuildVariant.parse("cu126"), [f"torch=={release.torch}"], profiles)
    assert words[:2] == ["-c", "conda-forge"] and words[-1] == "cuda-version=12.6"
    assert profiles.conda_forge is not None
    forge = dataclasses.replace(
        profiles.conda_forge, cpu_command="conda install -c conda-forge pytorch-cpu"
    )
    with_cpu = dataclasses.replace(profiles, conda_forge=forge)
    cpu = conda_args(release, BuildVariant.parse("cpu"), [f"torch=={release.torch}"], with_cpu)
    assert cpu == ["-c", "conda-forge", f"pytorch=={release.torch}", "pytorch-cpu"]


def _forge_release(profiles: Profiles) -> TorchRelease:
    """The newest release the pytorch channel never published: conda-forge's alone."""
    return next(r for r in profiles.sorted_releases() if r.conda is None)
