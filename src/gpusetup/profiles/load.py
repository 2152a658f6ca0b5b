"""Finds, parses and validates the profile directories: the packaged one, then any user ones."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Tuple, Type

import yaml

from gpusetup.errors import ProfileError, UsageError
from gpusetup.plumbing.codec import ShapeError, from_jsonable, read_text_file
from gpusetup.profiles.known_broken import KnownBrokenFile
from gpusetup.profiles.model import (
    PROFILE_SCHEMA,
    CudaFile,
    GpusFile,
    Profiles,
    TorchFile,
)
from gpusetup.profiles.stacks import StacksFile
from gpusetup.profiles.yaml_lines import load_yaml

PROFILES_ENV = "GPUSETUP_PROFILES"
MAX_PROFILE_BYTES = 4 * 2**20  # the packaged profiles are ~60 KiB together
_KINDS: Dict[str, Type[Any]] = {
    "cuda": CudaFile,
    "torch": TorchFile,
    "stacks": StacksFile,
    "gpus": GpusFile,
    "known_broken": KnownBrokenFile,
}


def packaged_dir() -> Path:
    """profiles/ inside the wheel, or the repository's profiles/ for an editable install."""
    here = Path(__file__).resolve().parent.parent
    inside = here / "_profiles"
    if inside.is_dir():
        return inside
    return here.parent.parent / "profiles"


def profile_dirs(extra: Iterable[str] = ()) -> List[Path]:
    dirs = [packaged_dir()]
    from_env = os.environ.get(PROFILES_ENV, "")
    dirs += [Path(p) for p in from_env.split(os.pathsep) if p]
    dirs += [Path(p) for p in extra]
    return dirs


def load_profiles(extra: Iterable[str] = ()) -> Profiles:
    profiles = Profiles()
    for directory in profile_dirs(extra):
        if not directory.is_dir():
            raise ProfileError(
                f"{directory}: profile directory not found", f"check ${PROFILES_ENV} and --profiles"
            )
        for path in sorted(directory.glob("*.yaml")):
            _merge(profiles, path, load_file(path))
    return profiles


def load_file(path: Path, references: bool = True) -> Tuple[str, Any]:
    """Parse and validate one profile file; every problem is a ProfileError naming file:line
    (references=False: arch-set names are left for `profiles validate` to list, every one)."""
    try:
        data = load_yaml(read_text_file(str(path), str(path), limit=MAX_PROFILE_BYTES))
    except UsageError as err:
        raise ProfileError(err.message) from None
    except RecursionError:
        raise ProfileError(f"{path}: nested too deeply") from None
    except ValueError as err:  # an integer of 4300+ digits, which int() refuses
        raise ProfileError(f"{path}: {str(err).split(';')[0]}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if (
            "nesting depth" in problem
        ):  # PyYAML 6.0.4+ says so itself; older ones hit RecursionError
            raise ProfileError(f"{path}{line}: nested too deeply") from None
        raise ProfileError(f"{path}{line}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}:1: a profile file must be a mapping with 'schema' and 'kind'")
    if data.get("schema") != PROFILE_SCHEMA:
        line = getattr(data, "key_lines", {}).get("schema", 1)
        raise ProfileError(
            f"{path}:{line}: schema must be {PROFILE_SCHEMA!r}, got {data.get('schema')!r}"
        )
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        line = getattr(data, "key_lines", {}).get("kind", 1)
        raise ProfileError(f"{path}:{line}: kind must be one of {sorted(_KINDS)}, got {kind!r}")
    try:
        content = from_jsonable(_KINDS[kind], data, kind)
    except ShapeError as err:
        raise ProfileError(f"{path}:{err.line or 1}: {err.path}: {err.problem}") from None
    if references and isinstance(content, TorchFile):
        problems = arch_set_problems(path, data, content)
        if problems:
            raise ProfileError(problems[0])
    return kind, content


def arch_set_problems(path: Path, data: Any, content: TorchFile) -> List[str]:
    """Each arch set a release names that the file does not define, at the line that names it."""
    releases = data.get("releases") or []
    problems = []
    for i, name, aarch64 in content.unknown_arch_sets():
        entry = releases[i]
        node = entry.get("aarch64") if aarch64 else entry
        line = getattr(node, "key_lines", {}).get("archs") or getattr(entry, "line", None) or 1
        problems.append(
            f"{path}:{line}: torch {content.releases[i].torch}: unknown arch set {name!r}"
            + (" (aarch64)" if aarch64 else "")
        )
    return problems


def _merge(profiles: Profiles, path: Path, loaded: Tuple[str, Any]) -> None:
    kind, content = loaded
    profiles.files.append(str(path))
    if kind == "cuda":
        for toolkit in content.toolkits:
            profiles.toolkits[toolkit.version] = toolkit
    elif kind == "torch":
        profiles.index_base = content.index_base
        profiles.arch_sets.update(content.arch_sets)
        profiles.conda_forge = content.conda_forge or profiles.conda_forge
        profiles.numpy = content.numpy or profiles.numpy
        profiles.conda_channel = content.conda_channel or profiles.conda_channel
        for name, entries in content.companion_releases.items():
            table = profiles.companion_releases.setdefault(name, {})
            table.update({entry.version: entry for entry in entries})
        for release in content.releases:
            profiles.releases[str(release.version)] = release
    elif kind == "gpus":
        profiles.gpus = content
    elif kind == "known_broken":
        profiles.known_broken.extend(content.builds)
    elif kind == "stacks":
        for stack in content.stacks:
            profiles.stacks[stack.name] = stack
