"""The resolver's behaviour on a small hand-made profile set (tests/fixtures/profiles-handmade/).

These do not read the packaged data, so adding a release to profiles/ cannot move them.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.errors import MissingRequirement, ResolutionError, UsageError
from gpusetup.install.resolve import Machine, Request, parse_cuda_request, resolve, torch_spec
from gpusetup.profiles.model import Profiles
from gpusetup.versions import ComputeCapability, DriverVersion

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


def test_auto_newest_variant_the_driver_runs(handmade: Profiles) -> None:
    """2.16.0 is unconfirmed; 2.15.0's confirmed build is cu132, which a 580 driver runs by minor compat."""
    plan = resolve(Request(), _machine("580.65.06", "sm_90", python="3.12"), handmade)
    assert (plan.torch, str(plan.variant)) == ("2.15.0", "cu132")
    assert plan.packages == ["torch==2.15.0", "torchvision==0.29.2", "torchaudio==2.11.1"]
    assert any("minor-version compatibility" in r for r in plan.reasons)
    assert any(r.startswith("newer 2.16.0: build matrix not confirmed") for r in plan.reasons)


def test_unconfirmed_variants_are_never_picked_by_auto(handmade: Profiles) -> None:
    """Volta: 2.15.0/2.14.1's only confirmed builds are cu13x (sm_75+); their cu126 is unconfirmed."""
    plan = resolve(Request(), _machine("580.65.06", "sm_70"), handmade)
    assert (plan.torch, str(plan.variant)) == ("2.13.0", "cu126")
    rejected = [c for c in plan.candidates if c.torch == "2.15.0" and str(c.variant) == "cu126"]
    assert rejected and not rejected[0].accepted and "--cuda cu126" in rejected[0].reason
    asked = resolve(Request(torch="2.15.0", cuda="cu126"), _machine("580.65.06", "sm_70"), handmade)
    assert str(asked.variant) == "cu126" and any("not confirmed" in r for r in asked.reasons)


def test_release_python_range_and_requires_python(handmade: Profiles) -> None:
    """2.15.0 has no cp310 wheel (Requires-Python >=3.11) and has cp315 ones."""
    with pytest.raises(ResolutionError, match="no wheel for Python 3.10") as err:
        resolve(Request(torch="2.15.0"), _machine("580.65.06", "sm_100", python="3.10"), handmade)
    assert "torch 2.14.1 with cu130" in err.value.hint
    plan = resolve(Request(torch="2.15.0"), _machine("580.65.06", "sm_90", python="3.15"), handmade)
    assert plan.packages == ["torch==2.15.0", "torchvision==0.29.2", "torchaudio==2.11.1"]


def test_full_python_version_meets_each_companions_requires_python(handmade: Profiles) -> None:
    """torchvision 0.26+ declare Requires-Python >=3.10,!=3.14.1: 3.14.1 backtracks to 2.10.0."""
    plan = resolve(Request(), _machine("580.65.06", "sm_90", python="3.14.1"), handmade)
    assert plan.torch == "2.10.0" and "torchvision==0.25.0" in plan.packages
    assert any("torchvision 0.29.2 does not install on Python 3.14.1" in r for r in plan.reasons)
    only_torch = Request(packages=("torch",))
    assert resolve(only_torch, _machine("580.65.06", "sm_90", python="3.14.1"), handmade).torch == (
        "2.15.0"
    )
    assert resolve(Request(), _machine("580.65.06", "sm_90", python="3.14.2"), handmade).torch == (
        "2.15.0"
    )


def test_companion_wheel_tags_bound_the_python(handmade: Profiles) -> None:
    """torchvision 0.29.1 ships cp310-cp314 only; 0.29.2 is py3 and installs on 3.15."""
    old, new = (
        handmade.companion("torchvision", "0.29.1"),
        handmade.companion("torchvision", "0.29.2"),
    )
    assert old is not None and new is not None
    assert old.runs_on("3.14.2") and not old.runs_on("3.15") and not old.runs_on("3.14.1")
    assert new.runs_on("3.15") and not new.runs_on("3.14.1") and not new.runs_on("3.9")


def test_jetson_runs_sm87_from_cuda_13_2_builds_of_2_14_on(handmade: Profiles) -> None:
    """torch >= 2.14, CUDA >= 13.2: sm_80/86 code runs on sm_87 (Orin); cu130 keeps the old rule."""
    plan = resolve(
        Request(torch="2.14.1", cuda="cu132"),
        _machine("595.45.04", "sm_87", arch="aarch64"),
        handmade,
    )
    assert str(plan.variant) == "cu132"
    with pytest.raises(ResolutionError, match="cu130: no kernels for sm_87"):
        resolve(
            Request(torch="2.14.1", cuda="cu130"),
            _machine("595.45.04", "sm_87", arch="aarch64"),
            handmade,
        )


def test_conda_forge_command_comes_from_the_profiles(handmade: Profiles) -> None:
    plan = resolve(
        Request(torch="2.13.0", cuda="cu130", installer="conda"), _machine("580.65.06"), handmade
    )
    assert plan.conda == [
        "-c",
        "conda-forge",
        "pytorch==2.13.0",
        "torchvision==0.28.0",  # pinned: the solver never picks a companion (one index, one build)
        "pytorch-gpu",
        "cuda-version=13.0",
    ]
    assert any("pytorch channel stops at 2.5.1" in r for r in plan.reasons)


def test_auto_prefers_the_toolkits_own_driver(handmade: Profiles) -> None:
    """560.35.03 meets CUDA 12.6's driver but only 12.8's minor-compat floor: cu126 ranks first."""
    plan = resolve(Request(torch="2.11.0"), _machine("560.35.03", "sm_86"), handmade)
    assert str(plan.variant) == "cu126"
    assert any("toolkit's own driver" in r for r in plan.reasons)
    cu128 = next(c for c in plan.candidates if str(c.variant) == "cu128")
    assert cu128.accepted and not cu128.preferred and "minor-version compatibility" in cu128.reason


def test_old_driver_rejects_cu13(handmade: Profiles) -> None:
    plan = resolve(Request(torch="2.11.0"), _machine("535.104.05", "sm_80"), handmade)
    assert str(plan.variant) == "cu128"
    assert any(c.reason == "cu130: driver 535.104.05 < 580" for c in plan.candidates)


def test_driver_too_old_for_any_cuda_build_is_exit_3(handmade: Profiles) -> None:
    with pytest.raises(
        MissingRequirement, match="every torch 2.x CUDA build needs a driver >= 450.80.02"
    ) as err:
        resolve(Request(), _machine("418.87.01", "sm_70"), handmade)
    assert "--cuda cpu" in err.value.hint


def test_blackwell_needs_cu128_or_newer(handmade: Profiles) -> None:
    plan = resolve(Request(torch="2.7.1"), _machine("570.124.06", "sm_120"), handmade)
    assert str(plan.variant) == "cu128"
    assert any(c.reason == "cu126: no kernels for sm_120" for c in plan.candidates)


def test_pascal_needs_cu126(handmade: Profiles) -> None:
    plan = resolve(Request(), _machine("580.65.06", "6.1"), handmade)
    assert str(plan.variant) == "cu126"
    assert any(c.reason == "cu130: no kernels for sm_61" for c in plan.candidates)


def test_mixed_pascal_and_blackwell_fit_no_single_build(handmade: Profiles) -> None:
    with pytest.raises((MissingRequirement, ResolutionError), match="no kernels for sm_"):
        resolve(Request(), _machine("580.65.06", "6.1", "12.0"), handmade)


def test_python_too_new_for_an_old_release(handmade: Profiles) -> None:
    with pytest.raises(ResolutionError, match="no wheel for Python 3.13"):
        resolve(
            Request(torch="2.4.1", cuda="cu121"), _machine("550.54.15", python="3.13"), handmade
        )
    assert resolve(Request(), _machine("550.54.15", python="3.14"), handmade).torch == "2.13.0"


def test_python_too_new_for_every_release(handmade: Profiles) -> None:
    with pytest.raises(MissingRequirement, match="no wheel for Python 3.16"):
        resolve(Request(), _machine("580.65.06", python="3.16"), handmade)


def test_aarch64_uses_its_own_variants(handmade: Profiles) -> None:
    plan = resolve(
        Request(torch="2.13.0"), _machine("580.65.06", "sm_90", arch="aarch64"), handmade
    )
    assert str(plan.variant) == "cu130"
    with pytest.raises(ResolutionError, match="not published"):
        resolve(
            Request(torch="2.6.0", cuda="cu124"),
            _machine("550.54.15", "sm_90", arch="aarch64"),
            handmade,
        )


def test_windows_has_no_rocm(handmade: Profiles) -> None:
    with pytest.raises(ResolutionError, match="not published"):
        resolve(Request(torch="2.4.1", cuda="rocm6.1"), _machine("551.61", os="windows"), handmade)


def test_companion_that_does_not_exist_is_refused(handmade: Profiles) -> None:
    with pytest.raises(ResolutionError, match="no torchaudio release pairs with torch 2.13.0"):
        resolve(
            Request(torch="2.13.0", cuda="cu130", packages=("torch", "torchaudio")),
            _machine("580.65.06"),
            handmade,
        )


def test_unconfirmed_releases_only_on_request(handmade: Profiles) -> None:
    plan = resolve(Request(torch="2.16.0", cuda="cu132"), _machine("595.45.04"), handmade)
    assert plan.torch == "2.16.0" and any("unconfirmed" in r for r in plan.reasons)
    assert resolve(Request(), _machine("595.45.04"), handmade).torch == "2.15.0"


def test_ranges_compare_as_versions(handmade: Profiles) -> None:
    assert (
        resolve(Request(torch=">=2.9,<2.11", cuda="cu128"), _machine("570.26"), handmade).torch
        == "2.10.0"
    )
    assert (
        resolve(Request(torch="2.1", cuda="cu118"), _machine("520.61.05"), handmade).torch
        == "2.1.2"
    )


def test_explicit_variant_the_driver_cannot_run(handmade: Profiles) -> None:
    with pytest.raises(ResolutionError, match="driver 535.104.05 < 580") as err:
        resolve(Request(torch="2.13.0", cuda="cu130"), _machine("535.104.05"), handmade)
    assert "what would fit" in err.value.hint


def test_auto_without_a_driver_is_a_usage_error(handmade: Profiles) -> None:
    with pytest.raises(UsageError, match="needs a driver"):
        resolve(Request(), Machine(python="3.11"), handmade)


@pytest.mark.parametrize("bad", ["11.9", "abc", "cu", "12", "rocm"])
def test_bad_cuda_requests(handmade: Profiles, bad: str) -> None:
    with pytest.raises(UsageError):
        resolve(Request(cuda=bad), _machine("550.54.15"), handmade)


@pytest.mark.parametrize("bad", ["1.13", "9.9", "abc", "2.x", ">>2"])
def test_bad_torch_requests(handmade: Profiles, bad: str) -> None:
    with pytest.raises(UsageError):
        resolve(Request(torch=bad, cuda="cpu"), _machine("550.54.15"), handmade)


@given(st.text(max_size=15))
def test_request_parsers_raise_only_usage_errors(text: str) -> None:
    for parse in (torch_spec, parse_cuda_request):
        with contextlib.suppress(UsageError):
            parse(text)


# Thai, Arabic-Indic and full-width digits, written as escapes: 0, 2.1, 12.4, 2.4.1, cu118, 12.4
OTHER_DIGITS = ["\u0e50", "\u0e52.\u0e51", "\u0661\u0662.\u0664", "\u0e52.\u0e54.\u0e51",
                "cu\u0661\u0661\u0668", "\uff11\uff12.\uff14"]  # fmt: skip


@pytest.mark.parametrize("text", OTHER_DIGITS)
def test_digits_of_other_scripts_are_not_versions(text: str) -> None:
    """Python's \\d matches Thai or Arabic-Indic digits; packaging refuses them (hypothesis found one)."""
    with pytest.raises(UsageError):
        torch_spec(text)
    with pytest.raises(UsageError):
        parse_cuda_request(text)
