"""scripts/refresh_profiles.py, offline, on index pages and METADATA recorded from the registry.

tests/fixtures/registry/recorded-2026-12-01/ was written by the script itself
(`--since 2.14.0 --record DIR`): the torch, torchvision and torchaudio PEP 691 pages trimmed to the
versions it read, each METADATA it read (one wheel per platform; range reads, the index offers no
PEP 658 files), and a manifest of their sha256.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.profiles.derive import ReleaseFacts
from gpusetup.profiles.load import load_file, packaged_dir
from gpusetup.profiles.model import TorchFile

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "refresh_profiles.py"
RECORDED = Path(__file__).parent / "fixtures" / "registry" / "recorded-2026-12-01"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_profiles", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def _facts() -> List[ReleaseFacts]:
    script = _script()
    registry = sys.modules["_registry"]
    facts, _ = script.gather(registry.Replay(RECORDED), "2.14.0", 180)
    return list(facts)


def test_the_recording_reproduces_todays_2_14_and_2_15_facts() -> None:
    _, torch = load_file(packaged_dir() / "torch.yaml")
    assert isinstance(torch, TorchFile)
    data = {r.torch: r for r in torch.releases}
    facts = _facts()
    assert [f.torch for f in facts] == ["2.14.0", "2.14.1", "2.15.0"]
    for fact in facts:
        release = data[fact.torch]
        assert fact.released == release.released
        assert (fact.python_min, fact.python_max) == (release.python.min, release.python.max)
        assert fact.requires_python == release.requires_python
        assert fact.platforms == release.platforms
        for platform in release.platforms:
            assert fact.builds[platform] == str(release.default_build(platform)), platform
        assert fact.companions == release.companions
    assert facts[2].admitted["torchvision"] == ["0.29.1", "0.29.2"]
    assert facts[0].admitted["torchaudio"] == ["2.11.0", "2.11.1"]


def test_the_companion_table_matches_the_recorded_metadata() -> None:
    _, torch = load_file(packaged_dir() / "torch.yaml")
    assert isinstance(torch, TorchFile)
    _, companions = _script().gather(sys.modules["_registry"].Replay(RECORDED), "2.14.0", 180)
    table = {(n, e.version): e for n, entries in torch.companion_releases.items() for e in entries}
    for entry in companions:
        kept = table[(entry.project, entry.version)]
        assert (kept.torch, kept.python, kept.wheels) == (entry.torch, entry.python, entry.wheels)


def _stale_copy(tmp_path: Path) -> Path:
    """torch.yaml as it was before 2.15.0, with 2.14.1's torchaudio and date not yet added."""
    text = (packaged_dir() / "torch.yaml").read_text()
    text = text[: text.index('- torch: "2.15.0"')]
    text = text.replace(
        '    torchvision: "0.29.1"\n    torchaudio: "2.11.1"', '    torchvision: "0.29.1"'
    )
    text = text.replace("  released: '2026-09-30'\n", "")
    start, end = text.index('  - version: "0.29.2"'), text.index("  torchaudio:\n  - version:")
    text = text[:start] + text[end:]
    # a hand-cited fact that differs from the registry: reported, never overwritten
    text = text.replace(
        '    min: "3.10"\n    max: "3.14"\n  requires_python: ">=3.10"',
        '    min: "3.10"\n    max: "3.13"\n  requires_python: ">=3.10"',
        1,
    )
    path = tmp_path / "torch.yaml"
    path.write_text(text)
    shutil.copy(packaged_dir() / "cuda.yaml", tmp_path / "cuda.yaml")
    return path


def test_the_diff_adds_what_the_file_lacks_and_keeps_hand_cited_facts(tmp_path: Path) -> None:
    path = _stale_copy(tmp_path)
    before = path.read_text()
    shown = _run("--profiles", str(path), "--since", "2.14.0", "--replay", str(RECORDED))
    assert shown.returncode == 0, shown.stderr
    assert path.read_text() == before  # without --write nothing changes
    out = shown.stdout
    assert '+- torch: "2.15.0"' in out and "+  pypi_default: cu132" in out
    assert '+    torchaudio: "2.11.1"' in out and "+  released: '2026-09-30'" in out
    assert '+  - version: "0.29.2"' in out
    assert (
        "# differs: torch 2.14.0: python.max: the profile says 3.13, the registry 3.14 (kept)"
        in out
    )
    assert (
        "# sources of torch 2.15.0: https://pypi.org/project/torch/2.15.0/#files; METADATA of"
        in out
    )
    assert not [
        line for line in out.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    written = _run(
        "--profiles", str(path), "--since", "2.14.0", "--replay", str(RECORDED), "--write"
    )
    assert written.returncode == 0, written.stderr
    _, torch = load_file(path)
    assert isinstance(torch, TorchFile)
    data = {r.torch: r for r in torch.releases}
    assert str(data["2.15.0"].pypi_default) == "cu132" and not data["2.15.0"].confirmed
    assert data["2.15.0"].companions == {"torchvision": "0.29.2", "torchaudio": "2.11.1"}
    assert data["2.14.1"].released == "2026-09-30" and data["2.14.0"].python.max == "3.13"
    again = _run("--profiles", str(path), "--since", "2.14.0", "--replay", str(RECORDED))
    assert not [line for line in again.stdout.splitlines() if line.startswith("+")]


def test_truncated_metadata_is_one_line_exit_2_nothing_written(tmp_path: Path) -> None:
    path = _stale_copy(tmp_path)
    before = path.read_text()
    recording = tmp_path / "recording"
    shutil.copytree(RECORDED, recording)
    cut = recording / "torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl.metadata"
    cut.write_bytes(cut.read_bytes()[:2000])
    result = _run(
        "--profiles", str(path), "--since", "2.14.0", "--replay", str(recording), "--write"
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "truncated" in result.stderr
    assert path.read_text() == before


def test_unreachable_index_is_one_line_exit_2_nothing_written(tmp_path: Path) -> None:
    path = _stale_copy(tmp_path)
    before = path.read_text()
    result = _run("--profiles", str(path), "--index", "http://127.0.0.1:9/simple", "--write")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "unreachable" in result.stderr
    assert path.read_text() == before


def test_metadata_without_its_headers_is_refused() -> None:
    from gpusetup.profiles.derive import MetadataError, parse_metadata

    with pytest.raises(MetadataError, match="truncated"):
        parse_metadata("Metadata-Version: 2.4\nName: torch\n", "torch-2.15.0-x.whl")


@given(st.text(max_size=300))
def test_metadata_parser_raises_only_metadata_errors(text: str) -> None:
    from gpusetup.profiles.derive import MetadataError, parse_metadata

    with contextlib.suppress(MetadataError):
        parse_metadata(text, "x.whl")


@given(st.lists(st.text(max_size=60), max_size=5), st.text(max_size=20))
def test_index_pages_with_odd_file_names_do_not_crash(names: List[str], upload: str) -> None:
    from gpusetup.profiles.derive import python_range, versions, wheels

    page = {"files": [{"filename": n, "upload-time": upload, "url": ""} for n in names]}
    found = wheels(page)
    versions(found)
    python_range(found)
