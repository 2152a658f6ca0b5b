"""torchaudio's absence for a release is said in the plan and in --help."""

from __future__ import annotations

import re

from gpusetup.cli import app
from gpusetup.install.companions import PACKAGES_HELP
from gpusetup.install.resolve import Machine, Request, resolve
from gpusetup.profiles.model import Profiles
from tests.conftest import make_runner

runner = make_runner()


def test_plan_says_torchaudio_is_left_out(profiles: Profiles) -> None:
    plan = resolve(Request(torch="2.13.0", cuda="cpu"), Machine(python="3.11"), profiles)
    assert not any(p.startswith("torchaudio") for p in plan.packages)
    (line,) = [r for r in plan.reasons if r.startswith("torchaudio:")]
    assert "no torchaudio release pairs with torch 2.13.0" in line
    assert "the newest torch with one is 2.12.1 (torchaudio 2.11.0): --torch 2.12.1" in line


def test_plan_with_torchaudio_says_nothing_about_it(profiles: Profiles) -> None:
    plan = resolve(Request(torch="2.11.0", cuda="cpu"), Machine(python="3.11"), profiles)
    assert "torchaudio==2.11.0" in plan.packages
    assert not any(r.startswith("torchaudio:") for r in plan.reasons)


def test_help_names_the_releases_without_torchaudio_and_the_data_agrees(
    profiles: Profiles,
) -> None:
    named = re.findall(r"\d+\.\d+\.\d+", PACKAGES_HELP)
    assert named
    for version in named:
        assert "torchaudio" not in profiles.releases[version].companions
    result = runner.invoke(app, ["install", "--help"], env={"COLUMNS": "300"})
    assert "have no torchaudio" in " ".join(result.output.split())
