"""profiles/known_broken.yaml: loaded and validated like the other profiles; matching by release and variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpusetup.errors import ProfileError
from gpusetup.profiles.load import load_file, load_profiles

ENTRY = """schema: gpusetup.profiles/1
kind: known_broken
builds:
  - id: torch-2.0.0-cu118-libnvrtc
    torch: "2.0.0"
    variants: [cu118]
    symptom: convolutions abort
    fixed_in: "{fixed_in}"
    source: {source}
"""


def test_packaged_file_loads_with_its_sources() -> None:
    builds = load_profiles().known_broken
    assert builds and all(b.source.startswith("https://github.com/") for b in builds)
    (nvrtc,) = [b for b in builds if b.id == "torch-2.0.0-cu118-libnvrtc"]
    assert nvrtc.matches("2.0.0+cu118", "linux")
    assert not nvrtc.matches("2.0.0+cu117", "linux") and not nvrtc.matches("2.0.1+cu118", "linux")
    assert not nvrtc.matches("2.0.0+cu118", "windows")  # the report and the fix are Linux wheels


@pytest.mark.parametrize(
    ("fixed_in", "source", "problem"),
    [
        (
            "1.13.1",
            "https://github.com/pytorch/pytorch/issues/97041",
            "fixed_in: 1.13.1 is not after",
        ),
        ("2.0.1", "http://example.com", "source: must be an https:// URL"),
        ("two", "https://github.com/pytorch/pytorch/issues/97041", "fixed_in: not a version"),
    ],
)
def test_bad_entries_name_file_and_line(
    fixed_in: str, source: str, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "known_broken.yaml"
    path.write_text(ENTRY.format(fixed_in=fixed_in, source=source))
    with pytest.raises(ProfileError, match=problem) as err:
        load_file(path)
    assert f"{path}:" in err.value.message
