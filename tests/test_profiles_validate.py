"""`profiles validate` across files: every error at once, each with file:line, exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from gpusetup.cli import app
from gpusetup.profiles.load import packaged_dir
from gpusetup.profiles.validate import validate_files

runner = CliRunner()


def _copy(tmp_path: Path) -> Path:
    for name in ("cuda.yaml", "torch.yaml"):
        shutil.copy(packaged_dir() / name, tmp_path / name)
    return tmp_path / "torch.yaml"


def _edit(path: Path, old: str, new: str, after: str = "") -> None:
    """Replace the first old (after the first `after`) in the file."""
    text = path.read_text()
    start = text.index(after) if after else 0
    assert old in text[start:], old
    path.write_text(text[:start] + text[start:].replace(old, new, 1))


def _line_of(path: Path, needle: str, after: str = "") -> int:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def test_the_packaged_profiles_are_consistent() -> None:
    assert validate_files(sorted(packaged_dir().glob("*.yaml"))) == []


def test_every_cross_file_error_is_reported_at_once(tmp_path: Path) -> None:
    torch = _copy(tmp_path)
    last = '- torch: "2.15.0"'
    _edit(
        torch, "variants: [cu126, cu130, cu132, cpu]", "variants: [cu126, cu130, cu134, cpu]", last
    )
    _edit(torch, "    cu132: cu13-2.9+\n  aarch64:", "    cu134: cu13-2.9+\n  aarch64:", last)
    _edit(torch, "variants.cu130, variants.cpu]", "variants.cpu]", last)
    _edit(torch, "pypi_default: cu132", "pypi_default: cu134", last)
    _edit(torch, 'torchvision: "0.28.0"', 'torchvision: "0.28.9"')
    _edit(torch, '- torch: "2.13.0"', '- torch: "2.12.1"')
    unused = "  unused-set:\n    archs: [sm_90]\n    source: https://example.org/x\n"
    _edit(torch, "  cu128-2.7:\n", unused + "  cu128-2.7:\n")
    result = runner.invoke(app, ["profiles", "validate", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("gpusetup: error:")]
    assert len(errors) == 4, result.stderr
    text = result.stderr
    variants = _line_of(torch, "variants: [cu126, cu130, cu134")
    assert f"{torch}:{variants}: torch 2.15.0: variant cu134 has no row in cuda.yaml" in text
    assert "torch 2.12.1: torchvision 0.28.9 is not in companion_releases" in text
    second = [
        i + 1
        for i, line in enumerate(torch.read_text().splitlines())
        if line == '- torch: "2.12.1"'
    ]
    assert f"{torch}:{second[1]}: torch 2.12.1 is listed twice (also {torch}:{second[0]})" in text
    assert (
        f"{torch}:{_line_of(torch, 'unused-set:')}: arch set 'unused-set' is used by no release"
        in text
    )


def test_schema_errors_of_several_releases_are_all_listed(tmp_path: Path) -> None:
    torch = _copy(tmp_path)
    _edit(torch, 'requires_python: ">=3.11"', 'requires_python: "=>3.11"')
    _edit(torch, 'requires_python: ">=3.10"', 'requires_python: "three"')
    errors = validate_files([tmp_path / "cuda.yaml", torch])
    assert len(errors) == 2, errors
    assert all(
        e.startswith(f"{torch}:") and "requires_python: not a valid specifier" in e for e in errors
    )
    three = _line_of(torch, 'requires_python: "three"')
    assert f"{torch}:{three}:" in errors[0]


def test_a_companion_whose_metadata_excludes_the_torch(tmp_path: Path) -> None:
    torch = _copy(tmp_path)
    _edit(torch, 'torchvision: "0.28.0"', 'torchvision: "0.27.1"')
    errors = validate_files([tmp_path / "cuda.yaml", torch])
    line = _line_of(torch, "companions:", after='- torch: "2.13.0"')
    assert errors == [
        f"{torch}:{line}: torch 2.13.0: torchvision 0.27.1 requires torch==2.12.1, not 2.13.0"
    ]


def test_conda_builds_past_the_channels_end(tmp_path: Path) -> None:
    torch = _copy(tmp_path)
    _edit(torch, 'conda_channel:\n  last: "2.5.1"', 'conda_channel:\n  last: "2.4.1"')
    errors = validate_files([tmp_path / "cuda.yaml", torch])
    assert len(errors) == 2 and all("the pytorch channel ends at 2.4.1" in e for e in errors)
    assert "torch 2.5.0:" in errors[0] and "torch 2.5.1:" in errors[1]


def test_an_unknown_arch_set_is_listed_beside_the_other_errors(tmp_path: Path) -> None:
    """It used to stop the file's loading: one error at the `schema:` line, the rest unseen."""
    torch = _copy(tmp_path)
    last = '- torch: "2.15.0"'
    _edit(torch, "    cu132: cu13-2.9+\n  aarch64:", "    cu132: no-such-set\n  aarch64:", last)
    _edit(torch, 'torchvision: "0.28.0"', 'torchvision: "0.28.9"')
    errors = validate_files(sorted(tmp_path.glob("*.yaml")))
    archs = _line_of(torch, "archs:", last)
    assert f"{torch}:{archs}: torch 2.15.0: unknown arch set 'no-such-set'" in errors
    assert any("torchvision 0.28.9 is not in companion_releases" in e for e in errors)
    # loading for use still refuses the file, at the same line
    result = runner.invoke(app, ["profiles", "list", "--profiles", str(tmp_path)])
    assert (
        result.exit_code == 2
        and f"{torch}:{archs}: torch 2.15.0: unknown arch set" in result.stderr
    )
