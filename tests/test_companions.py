"""torchaudio's absence for a release is said in the plan and in --help."""

from __future__ import annotations

import dataclasses

from gpusetup.cli import app
from gpusetup.install.resolve import Machine, Request, resolve
from gpusetup.profiles.model import Profiles
from tests.conftest import make_runner

runner = make_runner()


def test_plan_says_torchaudio_is_left_out(profiles: Profiles) -> None:
    """A release without a torchaudio (as the data may record for a future one) is planned without it."""
    release = profiles.releases["2.13.0"]
    bare = dataclasses.replace(
        release, companions={k: v for k, v in release.companions.items() if k != "torchaudio"}
    )
    trimmed = dataclasses.replace(profiles, releases={**profiles.releases, "2.13.0": bare})
    plan = resolve(Request(torch="2.13.0", cuda="cpu"), Machine(python="3.11"), trimmed)
    assert not any(p.startswith("torchaudio") for p in plan.packages)
    (line,) = [r for r in plan.reasons if r.startswith("torchaudio:")]
    assert "no torchaudio release pairs with torch 2.13.0" in line
    newest = next(
        r for r in trimmed.sorted_releases() if r.confirmed and "torchaudio" in r.companions
    )
    assert f"the newest torch with one is {newest.torch}" in line and newest.torch != "2.13.0"


def test_plan_with_torchaudio_says_nothing_about_it(profiles: Profiles) -> None:
    plan = resolve(Request(torch="2.11.0", cuda="cpu"), Machine(python="3.11"), profiles)
    assert "torchaudio==2.11.0" in plan.packages
    assert not any(r.startswith("torchaudio:") for r in plan.reasons)


def test_help_says_what_happens_without_torchaudio() -> None:
    result = runner.invoke(app, ["install", "--help"], env={"COLUMNS": "300"})
    assert "the plan says it is left out" in " ".join(result.output.split())
