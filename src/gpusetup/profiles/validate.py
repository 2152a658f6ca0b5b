"""`profiles validate`: every problem in a set of profile files at once, each as file:line.

Loading stops at a file's first schema error; this reads each torch release on its own and then
checks what only the files together can say: a variant without a cuda.yaml row, an arch set no
release uses, a companion the companion table lacks or whose metadata excludes the torch, a
release listed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from packaging.version import Version

from gpusetup.errors import ProfileError
from gpusetup.plumbing.codec import ShapeError, from_jsonable, read_text_file
from gpusetup.profiles.load import MAX_PROFILE_BYTES, arch_set_problems, load_file
from gpusetup.profiles.model import CudaFile, TorchFile, TorchRelease
from gpusetup.profiles.yaml_lines import load_yaml
from gpusetup.versions import CudaVersion


@dataclass(frozen=True)
class _Torch:
    path: Path
    raw: Any  # the LineDict of the file, for line numbers
    content: TorchFile


def _line(node: Any, key: str = "") -> int:
    lines = getattr(node, "key_lines", None) or {}
    return int(lines.get(key) or getattr(node, "line", None) or 1)


def validate_files(files: Sequence[Path]) -> List[str]:
    """Every error, as 'file:line: what is wrong'; empty when the files are consistent."""
    errors: List[str] = []
    torch_files: List[_Torch] = []
    cuda_rows: List[CudaVersion] = []
    for path in files:
        try:
            _kind, content = load_file(path, references=False)
        except ProfileError as err:
            errors += _release_errors(path) or [err.message]
            continue
        if isinstance(content, TorchFile):
            raw = load_yaml(_read(path))
            torch_files.append(_Torch(path, raw, content))
            errors += arch_set_problems(path, raw, content)
        elif isinstance(content, CudaFile):
            cuda_rows += [t.version for t in content.toolkits]
    errors += _duplicates(torch_files)
    for torch in torch_files:
        errors += _cuda_rows(torch, cuda_rows) if cuda_rows else []
        errors += _arch_sets_used(torch, torch_files)
        errors += _companions(torch, torch_files)
        errors += _conda_end(torch)
    return errors


def _conda_end(torch: _Torch) -> List[str]:
    """A pytorch-channel build newer than the channel's last release contradicts conda_channel."""
    end = torch.content.conda_channel
    if end is None:
        return []
    return [
        f"{torch.path}:{_line(raw, 'conda')}: torch {release.torch}: conda builds listed, but the "
        f"pytorch channel ends at {end.last} (conda_channel)"
        for raw, release in _releases(torch)
        if release.conda is not None and release.version > Version(end.last)
    ]


def _releases(torch: _Torch) -> List[Tuple[Any, TorchRelease]]:
    raw = torch.raw.get("releases") or []
    return list(zip(raw, torch.content.releases))


def _read(path: Path) -> str:
    """The loader's own bounded read: only regular files, at most MAX_PROFILE_BYTES."""
    return read_text_file(str(path), str(path), limit=MAX_PROFILE_BYTES)


def _release_errors(path: Path) -> List[str]:
    """Each release of a torch file that fails the schema, on its own line."""
    try:
        raw = load_yaml(_read(path))
    except Exception:  # noqa: BLE001 - the loader's own message already says why
        return []
    if not isinstance(raw, dict) or raw.get("kind") != "torch":
        return []
    errors = []
    for i, entry in enumerate(raw.get("releases") or []):
        try:
            from_jsonable(TorchRelease, entry, f"releases[{i}]")
        except ShapeError as err:
            errors.append(f"{path}:{err.line or _line(entry)}: {err.path}: {err.problem}")
    return errors


def _duplicates(torch_files: List[_Torch]) -> List[str]:
    seen: Dict[str, str] = {}
    errors = []
    for torch in torch_files:
        for raw, release in _releases(torch):
            where = f"{torch.path}:{_line(raw)}"
            key = str(release.version)
            if key in seen:
                errors.append(f"{where}: torch {release.torch} is listed twice (also {seen[key]})")
            else:
                seen[key] = where
    return errors


def _cuda_rows(torch: _Torch, rows: List[CudaVersion]) -> List[str]:
    errors = []
    for raw, release in _releases(torch):
        for variant in [*release.variants, release.pypi_default, release.aarch64.pypi_default]:
            if variant.cuda is not None and variant.cuda not in rows:
                errors.append(
                    f"{torch.path}:{_line(raw, 'variants')}: torch {release.torch}: variant "
                    f"{variant} has no row in cuda.yaml (its driver floors are unknown)"
                )
    return sorted(set(errors), key=errors.index)


def _arch_sets_used(torch: _Torch, torch_files: List[_Torch]) -> List[str]:
    used = {
        name
        for other in torch_files
        for release in other.content.releases
        for name in [*release.archs.values(), *release.aarch64.archs.values()]
    }
    sets = torch.raw.get("arch_sets") or {}
    return [
        f"{torch.path}:{_line(sets, name)}: arch set {name!r} is used by no release"
        for name in torch.content.arch_sets
        if name not in used
    ]


def _companions(torch: _Torch, torch_files: List[_Torch]) -> List[str]:
    table = {
        (name, entry.version): entry
        for other in torch_files
        for name, entries in other.content.companion_releases.items()
        for entry in entries
    }
    if not table:
        return []
    errors = []
    for raw, release in _releases(torch):
        for name, version in release.companions.items():
            where = f"{torch.path}:{_line(raw, 'companions')}: torch {release.torch}"
            entry = table.get((name, version))
            if entry is None:
                errors.append(f"{where}: {name} {version} is not in companion_releases")
            elif not entry.admits(release.torch):
                errors.append(
                    f"{where}: {name} {version} requires torch{entry.torch}, not {release.torch}"
                )
    return errors
