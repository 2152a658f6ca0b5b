"""--cuda in the user's words: 12.2 as nvidia-smi prints it plans the newest build that CUDA 12.2 runs."""

from __future__ import annotations

import contextlib
import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.cli import app
from gpusetup.errors import UsageError
from gpusetup.install.driver_cuda import driver_cuda_request, nearest_builds
from gpusetup.install.resolve import Machine, Request, resolve
from gpusetup.profiles.load import load_profiles
from gpusetup.profiles.model import Profiles
from gpusetup.versions import CudaVersion
from tests.conftest import make_runner

runner = make_runner()


def test_driver_cuda_plans_like_auto_for_that_driver(profiles: Profiles) -> None:
    plan = resolve(Request(cuda="12.2"), Machine(python="3.11"), profiles)
    auto = resolve(Request(), Machine(python="3.11", driver_cuda=CudaVersion(12, 2)), profiles)
    assert (plan.torch, plan.variant) == (auto.torch, auto.variant)
    assert str(plan.variant).startswith("cu12")
    assert plan.reasons[0].startswith("--cuda 12.2: read as the driver's CUDA")
    assert "nearest builds: 12.1, 12.4" in plan.reasons[0]


def test_driver_cuda_prefers_the_newest_build_made_with_at_most_that_cuda(
    profiles: Profiles,
) -> None:
    plan = resolve(Request(torch="2.4.1", cuda="12.2"), Machine(python="3.11"), profiles)
    assert str(plan.variant) == "cu121"  # 2.4.1 has cu118, cu121, cu124: cu124 needs a newer driver
    assert any("driver supports CUDA 12.2" in r for r in plan.reasons)


def test_an_exact_build_is_still_that_build(profiles: Profiles) -> None:
    plan = resolve(Request(torch="2.4.1", cuda="12.4"), Machine(python="3.11"), profiles)
    assert str(plan.variant) == "cu124" and not plan.reasons[0].startswith("--cuda")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "12.99",
            "no CUDA 12.99 is known (CUDA 12.x goes to 12.9 in the profiles); nearest builds: 12.9, 13.0",
        ),
        ("11.9", "nearest builds: 11.8, 12.1"),
        ("10.2", "no PyTorch 2.x build for CUDA 10.x; nearest builds: 11.7"),
        ("cu122", "builds exist for 11.7, 11.8, 12.1"),
    ],
)
def test_values_matching_no_build_list_the_nearest(
    text: str, message: str, profiles: Profiles
) -> None:
    with pytest.raises(UsageError) as err:
        resolve(Request(cuda=text), Machine(python="3.11"), profiles)
    assert message in err.value.message and "\n" not in err.value.message


def test_nearest_builds(profiles: Profiles) -> None:
    assert nearest_builds(CudaVersion(12, 2), profiles) == [CudaVersion(12, 1), CudaVersion(12, 4)]


def test_cli_says_so_in_the_plan() -> None:
    result = runner.invoke(
        app,
        [
            "install",
            "--dry-run",
            "--json",
            "--cuda",
            "12.2",
            "--torch",
            "2.4.1",
            "--python-version",
            "3.11",
        ],
    )
    plan = json.loads(result.stdout)
    assert result.exit_code == 0 and plan["variant"] == "cu121"
    assert "read as the driver's CUDA" in plan["reasons"][0]


def test_cli_cuda_12_99_is_exit_2() -> None:
    result = runner.invoke(
        app, ["install", "--dry-run", "--cuda", "12.99", "--python-version", "3.11"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines()[0].startswith("gpusetup: error: --cuda 12.99: no CUDA 12.99")


@given(st.text(max_size=12))
def test_driver_cuda_request_raises_only_usage_errors(text: str) -> None:
    with contextlib.suppress(UsageError):
        driver_cuda_request(text, _profiles())


@functools.cache
def _profiles() -> Profiles:
    return load_profiles([])


@pytest.mark.parametrize(
    ("build", "driver", "too_old"),
    [
        ("11.0", "450.51.05", False),  # 11.0's own minimum, below 11.x's 450.80.02 (pytorch#52515)
        ("11.0", "450.36.06", True),
        ("11.1", "450.51.05", True),  # an 11.1 build needs 455.23, or 450.80.02 by minor compat
        ("11.1", "450.80.02", False),
        ("12.4", "525.60.13", False),  # minor-version compatibility
        ("12.4", "520.61.05", True),
    ],
)
def test_driver_floor_of_a_build_is_its_own_minimum_or_minor_compat(
    profiles: Profiles, build: str, driver: str, too_old: bool
) -> None:
    """A build runs on its own toolkit's driver or on the minor-compat floor, whichever is older."""
    from gpusetup.doctor.context import Context
    from gpusetup.doctor.registry import run_checks
    from tests.conftest import facts_fixture

    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.torch.version, facts.torch.cuda_build = f"2.0.0+cu{build.replace('.', '')}", build
    facts.driver.version, facts.driver.cuda_version = driver, None
    errors = [
        f
        for f in run_checks(Context(facts, profiles))
        if f.id == "driver-too-old-for-torch" and f.severity.value == "error"
    ]
    assert bool(errors) is too_old, errors
