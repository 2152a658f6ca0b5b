"""The resolver against the official commands, and auto's edge cases."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.errors import MissingRequirement, ResolutionError, UsageError
from gpusetup.install.resolve import Machine, Request, parse_cuda_request, resolve, torch_spec
from gpusetup.profiles.model import Profiles
from gpusetup.versions import ComputeCapability, DriverVersion

OFFICIAL = Path(__file__).parent / "fixtures" / "official_commands.txt"


def _official() -> List[Tuple[str, str, str]]:
    rows = []
    for line in OFFICIAL.read_text().splitlines():
        if line and not line.startswith("#"):
            version, label, command = (part.strip() for part in line.split("|", 2))
            rows.append((version, label, command))
    return rows


OFFICIAL_ROWS = _official()
PIP_ROWS = [r for r in OFFICIAL_ROWS if r[1].startswith("pip [") and r[1] != "pip [osx]"]
CONDA_ROWS = [r for r in OFFICIAL_ROWS if r[1].startswith("conda [") and r[1] != "conda [osx]"]


def _python_for(profiles: Profiles, version: str) -> str:
    return profiles.releases[version].python.min


def test_releases_built_for_numpy1_pin_it_and_no_other_does(profiles: Profiles) -> None:
    """The official commands predate NumPy 2: run today, 2.0-2.2 would get a NumPy they cannot use."""
    for version, release in profiles.releases.items():
        if not release.confirmed:
            continue
        plan = resolve(
            Request(torch=version, cuda="cpu"), Machine(python=release.python.min), profiles
        )
        expected = ["numpy<2"] if release.version.release < (2, 3) else []
        assert plan.pins == expected, version
        assert any(r.startswith("numpy<2: ") for r in plan.reasons) == bool(expected), version


@pytest.mark.parametrize(
    ("version", "label", "command"), PIP_ROWS, ids=[f"{v}-{lbl}" for v, lbl, _ in PIP_ROWS]
)
def test_pip_command_matches_the_official_page(
    profiles: Profiles, version: str, label: str, command: str
) -> None:
    variant = label[len("pip [") : -1]
    plan = resolve(
        Request(torch=version, cuda=variant),
        Machine(python=_python_for(profiles, version)),
        profiles,
    )
    expected = command
    if "--index-url" not in command:
        # 2.0.x cu117 was PyPI's default, so the page omits the index. gpusetup always names the
        # PyTorch index (the PyPI default moves between releases); that index serves these wheels.
        expected = f"{command} --index-url https://download.pytorch.org/whl/{variant}"
    assert plan.pip_command() == expected


@pytest.mark.parametrize(
    ("version", "label", "command"), CONDA_ROWS, ids=[f"{v}-{lbl}" for v, lbl, _ in CONDA_ROWS]
)
def test_conda_command_matches_the_official_page(
    profiles: Profiles, version: str, label: str, command: str
) -> None:
    cuda = label[len("conda [") : -1]
    variant = "cpu" if cuda == "cpu" else "cu" + cuda.replace(".", "")
    plan = resolve(
        Request(torch=version, cuda=variant, installer="conda"),
        Machine(python=_python_for(profiles, version)),
        profiles,
    )
    assert plan.conda is not None
    assert "conda install " + " ".join(plan.conda) == " ".join(command.split())


def test_every_profile_variant_has_an_official_command(profiles: Profiles) -> None:
    """Both ways: the profiles list exactly the Linux variants the page shows (2.0.0-2.11.0)."""
    for version in sorted({v for v, _, _ in PIP_ROWS}):
        page = {label[len("pip [") : -1] for v, label, _ in PIP_ROWS if v == version}
        assert set(profiles.releases[version].variants) == page, version


def test_every_release_with_conda_commands_has_the_channel(profiles: Profiles) -> None:
    versions = {v for v, _, _ in CONDA_ROWS}
    for release in profiles.releases.values():
        assert (release.conda is not None) == (release.torch in versions), release.torch


H100 = (ComputeCapability(9, 0),)


def _machine(
    driver: str, *caps: str, python: str = "3.11", os: str = "linux", arch: str = "x86_64"
) -> Machine:
    return Machine(
        python=python,
        os=os,
        arch=arch,
        driver=DriverVersion.parse(driver),
        capabilities=tuple(ComputeCapability.parse(c) for c in caps),
    )


def test_auto_newest_variant_the_driver_runs(profiles: Profiles) -> None:
    plan = resolve(Request(), _machine("580.65.06", "sm_90"), profiles)
    assert (plan.torch, plan.variant) == ("2.13.0", "cu130")
    assert plan.packages == ["torch==2.13.0", "torchvision==0.28.0"]


def test_auto_prefers_the_toolkits_own_driver(profiles: Profiles) -> None:
    """560.35.03 meets CUDA 12.6's driver but only 12.8's minor-compat floor: cu126 ranks first."""
    plan = resolve(Request(torch="2.11.0"), _machine("560.35.03", "sm_86"), profiles)
    assert plan.variant == "cu126"
    assert any("toolkit's own driver" in r for r in plan.reasons)
    cu128 = next(c for c in plan.candidates if c.variant == "cu128")
    assert cu128.accepted and not cu128.preferred and "minor-version compatibility" in cu128.reason


def test_old_driver_rejects_cu13(profiles: Profiles) -> None:
    plan = resolve(Request(torch="2.11.0"), _machine("535.104.05", "sm_80"), profiles)
    assert plan.variant == "cu128"
    assert any(c.reason == "cu130: driver 535.104.05 < 580" for c in plan.candidates)


def test_driver_too_old_for_any_cuda_build_is_exit_3(profiles: Profiles) -> None:
    with pytest.raises(
        MissingRequirement, match="every torch 2.x CUDA build needs a driver >= 450.80.02"
    ) as err:
        resolve(Request(), _machine("418.87.01", "sm_70"), profiles)
    assert "--cuda cpu" in err.value.hint


def test_blackwell_needs_cu128_or_newer(profiles: Profiles) -> None:
    plan = resolve(Request(torch="2.7.1"), _machine("570.124.06", "sm_120"), profiles)
    assert plan.variant == "cu128"
    assert any(c.reason == "cu126: no kernels for sm_120" for c in plan.candidates)


def test_pascal_needs_cu126(profiles: Profiles) -> None:
    plan = resolve(Request(), _machine("580.65.06", "6.1"), profiles)
    assert plan.variant == "cu126"
    assert any(c.reason == "cu130: no kernels for sm_61" for c in plan.candidates)


def test_mixed_pascal_and_blackwell_fit_no_single_build(profiles: Profiles) -> None:
    with pytest.raises((MissingRequirement, ResolutionError), match="no kernels for sm_"):
        resolve(Request(), _machine("580.65.06", "6.1", "12.0"), profiles)


def test_python_too_new_for_an_old_release(profiles: Profiles) -> None:
    with pytest.raises(ResolutionError, match="no wheel for Python 3.13"):
        resolve(
            Request(torch="2.4.1", cuda="cu121"), _machine("550.54.15", python="3.13"), profiles
        )
    assert resolve(Request(), _machine("550.54.15", python="3.14"), profiles).torch == "2.13.0"


def test_python_too_new_for_every_release(profiles: Profiles) -> None:
    with pytest.raises(MissingRequirement, match="no wheel for Python 3.15"):
        resolve(Request(), _machine("580.65.06", python="3.15"), profiles)


def test_aarch64_uses_its_own_variants(profiles: Profiles) -> None:
    plan = resolve(
        Request(torch="2.13.0"), _machine("580.65.06", "sm_90", arch="aarch64"), profiles
    )
    assert plan.variant == "cu130"
    with pytest.raises(ResolutionError, match="not published"):
        resolve(
            Request(torch="2.6.0", cuda="cu124"),
            _machine("550.54.15", "sm_90", arch="aarch64"),
            profiles,
        )


def test_windows_has_no_rocm(profiles: Profiles) -> None:
    with pytest.raises(ResolutionError, match="not published"):
        resolve(Request(torch="2.4.1", cuda="rocm6.1"), _machine("551.61", os="windows"), profiles)


def test_companion_that_does_not_exist_is_refused(profiles: Profiles) -> None:
    with pytest.raises(ResolutionError, match="no torchaudio release pairs with torch 2.13.0"):
        resolve(
            Request(torch="2.13.0", cuda="cu130", packages=("torch", "torchaudio")),
            _machine("580.65.06"),
            profiles,
        )


def test_unconfirmed_releases_only_on_request(profiles: Profiles) -> None:
    plan = resolve(Request(torch="2.14.1", cuda="cu130"), _machine("580.65.06"), profiles)
    assert plan.torch == "2.14.1" and any("unconfirmed" in r for r in plan.reasons)
    assert resolve(Request(), _machine("580.65.06"), profiles).torch == "2.13.0"


def test_ranges_compare_as_versions(profiles: Profiles) -> None:
    assert (
        resolve(Request(torch=">=2.9,<2.11", cuda="cu128"), _machine("570.26"), profiles).torch
        == "2.10.0"
    )
    assert (
        resolve(Request(torch="2.1", cuda="cu118"), _machine("520.61.05"), profiles).torch
        == "2.1.2"
    )


def test_explicit_variant_the_driver_cannot_run(profiles: Profiles) -> None:
    with pytest.raises(ResolutionError, match="driver 535.104.05 < 580") as err:
        resolve(Request(torch="2.13.0", cuda="cu130"), _machine("535.104.05"), profiles)
    assert "what would fit" in err.value.hint


def test_auto_without_a_driver_is_a_usage_error(profiles: Profiles) -> None:
    with pytest.raises(UsageError, match="needs a driver"):
        resolve(Request(), Machine(python="3.11"), profiles)


@pytest.mark.parametrize("bad", ["11.9", "abc", "cu", "12", "rocm"])
def test_bad_cuda_requests(profiles: Profiles, bad: str) -> None:
    with pytest.raises(UsageError):
        resolve(Request(cuda=bad), _machine("550.54.15"), profiles)


@pytest.mark.parametrize("bad", ["1.13", "9.9", "abc", "2.x", ">>2"])
def test_bad_torch_requests(profiles: Profiles, bad: str) -> None:
    with pytest.raises(UsageError):
        resolve(Request(torch=bad, cuda="cpu"), _machine("550.54.15"), profiles)


@given(st.text(max_size=15))
def test_request_parsers_raise_only_usage_errors(text: str) -> None:
    for parse in (torch_spec, parse_cuda_request):
        with contextlib.suppress(UsageError):
            parse(text)
