"""Profile files: the packaged data loads and cites its sources; bad files give file:line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpusetup.cli import app
from gpusetup.errors import ProfileError
from gpusetup.profiles.load import load_file, load_profiles, packaged_dir
from gpusetup.profiles.model import Profiles
from tests.conftest import make_runner

runner = make_runner()
STACKS = """schema: gpusetup.profiles/1
kind: stacks
stacks:
  - name: our-cluster
    torch: "2.4.1"
    cuda: cu121
    python: "3.11"
    index_url: https://pypi.internal.example/pytorch/whl/cu121
"""


def test_packaged_profiles_read_in_place_from_the_repository() -> None:
    assert packaged_dir().resolve() == (Path(__file__).parents[1] / "profiles").resolve()


def test_every_release_and_toolkit_cites_an_https_source(profiles: Profiles) -> None:
    assert len(profiles.releases) >= 28
    for release in profiles.releases.values():
        assert release.source.startswith("https://")
        for variant in release.variants:
            if variant.cuda is not None:
                assert profiles.toolkit(variant.cuda) is not None, (
                    release.torch,
                    variant,
                )
                assert profiles.archs(release, variant), (release.torch, variant)
    for toolkit in profiles.toolkits.values():
        assert toolkit.source.startswith("https://")


def test_every_companion_is_a_registry_release_that_admits_its_torch(profiles: Profiles) -> None:
    """Pairings come from the companions' own metadata (companion_releases), not from a rule."""
    for release in profiles.releases.values():
        for name, version in release.companions.items():
            entry = profiles.companion(name, version)
            assert entry is not None, (release.torch, name, version)
            assert entry.admits(release.torch), (release.torch, name, version)
            assert entry.source.startswith("https://pypi.org/project/"), entry.source


def test_no_companion_is_invented_past_what_the_registry_has(profiles: Profiles) -> None:
    newest = profiles.newest_companion("torchaudio")
    assert newest is not None and newest.version == "2.11.1" and newest.torch == ">=2.11"
    assert profiles.releases["2.15.0"].companions["torchvision"] == "0.29.2"


def test_numpy2_boundary_is_cited_and_splits_the_releases(profiles: Profiles) -> None:
    rule = profiles.numpy
    assert rule is not None and rule.source.startswith("https://github.com/pytorch/pytorch/issues/")
    numpy1 = [r.torch for r in profiles.releases.values() if rule.torch_needs_numpy1(r.torch)]
    assert numpy1 and all(v.startswith(("2.0.", "2.1.", "2.2.")) for v in numpy1)
    assert rule.torch_needs_numpy1("2.2.2+cu121") and not rule.torch_needs_numpy1("2.3.0+cu121")
    assert not rule.torch_needs_numpy1("2.4.0a0+git1234") and not rule.torch_needs_numpy1("garbage")


def test_unconfirmed_releases_say_why(profiles: Profiles) -> None:
    for release in profiles.releases.values():
        if not release.confirmed:
            assert release.note


def _write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (STACKS.replace('torch: "2.4.1"', "torch: [2.4"), ":6: YAML syntax error"),
        (
            STACKS.replace('torch: "2.4.1"', "torch: 2.4.1.x"),
            ":5: stacks.stacks[0]: torch: not a valid version",
        ),
        (
            STACKS.replace("cuda: cu121", "cuda: 12"),
            ":6: stacks.stacks[0].cuda: expected a string, got int",
        ),
        (
            STACKS.replace("cuda: cu121", "cuda: rocm²"),
            ":6: stacks.stacks[0]: cuda: not a valid variant",
        ),
        (
            STACKS.replace("    python:", "    pyhton:"),
            ":7: stacks.stacks[0]: unknown field 'pyhton'",
        ),
        (STACKS.replace('    torch: "2.4.1"\n', ""), ":4: stacks.stacks[0]: missing field 'torch'"),
        (
            STACKS.replace("https://pypi.internal", "http://pypi.internal"),
            ":8: stacks.stacks[0]: index_url: must be an https:// URL",
        ),
        (
            STACKS.replace("https://pypi.internal.example/pytorch/whl/cu121", "mirror"),
            ":8: stacks.stacks[0]: index_url: must be an https:// URL",
        ),
        (STACKS.replace("kind: stacks", "kind: gpus-and-more"), ":2: kind must be one of"),
        (STACKS.replace("schema: gpusetup.profiles/1", "schema: 2"), ":1: schema must be"),
    ],
)
def test_bad_profile_names_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError) as err:
        load_file(path)
    assert f"{path}{where}" in err.value.message
    result = runner.invoke(app, ["profiles", "validate", str(path)])
    assert result.exit_code == 2 and where in result.stderr and "Traceback" not in result.stderr


def test_user_profile_directory_adds_stacks(tmp_path: Path) -> None:
    _write(tmp_path, STACKS)
    profiles = load_profiles([str(tmp_path)])
    assert profiles.stacks["our-cluster"].index_url.startswith("https://")
    listed = runner.invoke(app, ["profiles", "list", "--profiles", str(tmp_path)])
    assert "our-cluster: torch 2.4.1 + cu121 + Python 3.11" in listed.output


def test_profiles_from_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, STACKS)
    monkeypatch.setenv("GPUSETUP_PROFILES", str(tmp_path))
    assert "our-cluster" in load_profiles().stacks


def test_missing_profile_directory_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["profiles", "list", "--profiles", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "profile directory not found" in result.stderr


def test_profiles_cli_list_show_validate() -> None:
    assert "2.10.0" in runner.invoke(app, ["profiles", "list"]).output
    shown = runner.invoke(app, ["profiles", "show", "2.1.2"])
    assert (
        shown.exit_code == 0
        and "pytorch-cuda 11.8, 12.1" in shown.output
        and "sm_37" in shown.output
    )
    assert runner.invoke(app, ["profiles", "show", "1.13.1"]).exit_code == 2
    assert runner.invoke(app, ["profiles", "validate"]).exit_code == 0
