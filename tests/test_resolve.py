"""The resolver against the official commands, and auto's edge cases."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest

from gpusetup.install.resolve import Machine, Request, resolve
from gpusetup.profiles.model import Profiles

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
        assert {str(v) for v in profiles.releases[version].variants} == page, version


def test_every_release_with_conda_commands_has_the_channel(profiles: Profiles) -> None:
    versions = {v for v, _, _ in CONDA_ROWS}
    for release in profiles.releases.values():
        assert (release.conda is not None) == (release.torch in versions), release.torch
