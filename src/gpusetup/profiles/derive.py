"""Release facts derived from the registry: an index page (PEP 691 JSON) and wheels' core metadata.

Pure: the index pages and METADATA texts come in, facts come out. scripts/refresh_profiles.py
fetches them (or replays recorded ones) and turns the facts into a diff of profiles/torch.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import HeaderParser
from typing import Any, Dict, List, Optional, Tuple

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

PLATFORMS = ("linux_x86_64", "linux_aarch64", "win_amd64", "macos_arm64", "macos_x86_64")
_ENVIRONMENTS = {  # PEP 508 marker values of each platform
    "linux_x86_64": {
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "sys_platform": "linux",
    },
    "linux_aarch64": {
        "platform_system": "Linux",
        "platform_machine": "aarch64",
        "sys_platform": "linux",
    },
    "win_amd64": {
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "sys_platform": "win32",
    },
    "macos_arm64": {
        "platform_system": "Darwin",
        "platform_machine": "arm64",
        "sys_platform": "darwin",
    },
    "macos_x86_64": {
        "platform_system": "Darwin",
        "platform_machine": "x86_64",
        "sys_platform": "darwin",
    },
}
# cuda-toolkit==13.2.2 (2.14+), nvidia-cuda-runtime-cu12==12.8.90 (2.0-2.13): the build's CUDA
_CUDA_PACKAGES = re.compile(r"cuda-toolkit|nvidia-cuda-runtime(-cu\d+)?")


class MetadataError(ValueError):
    """Core metadata that is cut short or lacks the fields every wheel has."""


@dataclass(frozen=True)
class Wheel:
    filename: str
    project: str
    version: str
    python_tag: str  # cp311, py3
    abi_tag: str  # cp311, cp314t, none
    platform: Optional[str]  # one of PLATFORMS, None for another platform
    uploaded: str  # ISO 8601
    requires_python: str
    url: str
    hashes: Dict[str, str] = field(default_factory=dict)
    core_metadata: Any = None  # the PEP 691 core-metadata value (False, True or hashes)


def platform_of(tag: str) -> Optional[str]:
    if tag == "any":
        return "any"
    if tag == "win_amd64":
        return "win_amd64"
    for arch in ("x86_64", "aarch64"):
        if tag.startswith(("manylinux", "linux", "musllinux")) and tag.endswith(arch):
            return f"linux_{arch}"
    if tag.startswith("macosx_"):
        return "macos_arm64" if tag.endswith("arm64") else "macos_x86_64"
    return None


def wheels(page: Dict[str, Any]) -> List[Wheel]:
    """The wheels of a PEP 691 project page (sdists and unparsable names left out)."""
    found = []
    for entry in page.get("files", []):
        name = str(entry.get("filename", ""))
        parts = name[: -len(".whl")].split("-") if name.endswith(".whl") else []
        if len(parts) not in (5, 6):
            continue
        project, version, py, abi, plat = parts[0], parts[1], *parts[-3:]
        found.append(
            Wheel(
                name,
                project,
                version,
                py,
                abi,
                platform_of(plat),
                str(entry.get("upload-time") or ""),
                str(entry.get("requires-python") or ""),
                str(entry.get("url", "")),
                dict(entry.get("hashes") or {}),
                entry.get("core-metadata", entry.get("dist-info-metadata")),
            )
        )
    return found


def versions(files: List[Wheel]) -> List[str]:
    """Final releases, oldest first, compared as versions."""
    result = set()
    for wheel in files:
        try:
            if not Version(wheel.version).is_prerelease:
                result.add(wheel.version)
        except InvalidVersion:
            continue
    return sorted(result, key=Version)


def parse_metadata(text: str, wheel: str) -> Tuple[str, List[Requirement]]:
    """(Requires-Python, Requires-Dist) of a METADATA file; MetadataError when it is cut short."""
    headers = HeaderParser().parsestr(text)
    for key in ("Metadata-Version", "Name", "Version"):
        if not headers.get(key):
            raise MetadataError(f"{wheel}: core metadata without {key} (truncated?)")
    requirements = []
    for line in headers.get_all("Requires-Dist") or []:
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement:
            raise MetadataError(f"{wheel}: unparsable Requires-Dist {line!r}") from None
    return str(headers.get("Requires-Python") or ""), requirements


def build_for(requirements: List[Requirement], platform: str, python: str) -> str:
    """The build a wheel is on this platform: cuXYZ from its CUDA runtime requirement, else cpu."""
    env: Dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    env.update({**_ENVIRONMENTS[platform], "python_version": python, "extra": ""})
    for requirement in requirements:
        if not _CUDA_PACKAGES.fullmatch(requirement.name):
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        pins = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
        if pins:
            release = Version(pins[0]).release
            return f"cu{release[0]}{release[1]}"
    return "cpu"


def python_range(files: List[Wheel]) -> Tuple[str, str]:
    """The lowest and highest CPython minor with a wheel (cp310 .. cp315), or the py3 Requires-Python."""
    minors = sorted({int(w.python_tag[3:]) for w in files if re.fullmatch(r"cp3\d+", w.python_tag)})
    if not minors:
        return "", ""
    return f"3.{minors[0]}", f"3.{minors[-1]}"


def wheel_tags(files: List[Wheel]) -> str:
    """py3, or the CPython tag range a companion ships (cp310-cp314)."""
    if any(w.python_tag.startswith("py3") for w in files):
        return "py3"
    low, high = python_range(files)
    return f"cp3{low[2:]}-cp3{high[2:]}" if low else ""


def first_upload(files: List[Wheel]) -> str:
    return min((w.uploaded for w in files if w.uploaded), default="")


def within(later: str, earlier: str, hours: float) -> bool:
    """Whether the upload `later` came at most `hours` after `earlier` (ISO 8601 times)."""
    try:
        a, b = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (later, earlier))
    except ValueError:
        return False
    return timedelta(0) <= a - b <= timedelta(hours=hours)


@dataclass(frozen=True)
class CompanionFacts:
    """One torchvision/torchaudio release: what its metadata and its files say."""

    project: str
    version: str
    torch: str  # its Requires-Dist on torch, "" when it declares none
    python: str
    wheels: str
    uploaded: str
    source: str

    def admits(self, torch_version: str) -> bool:
        return not self.torch or SpecifierSet(self.torch).contains(torch_version, prereleases=True)


def companion_facts(files: List[Wheel], metadata: str, source: str) -> CompanionFacts:
    wheel = files[0]
    requires_python, requirements = parse_metadata(metadata, wheel.filename)
    spec = next((str(r.specifier) for r in requirements if r.name == "torch" and not r.marker), "")
    return CompanionFacts(
        wheel.project,
        wheel.version,
        spec,
        requires_python,
        wheel_tags(files),
        first_upload(files),
        source,
    )


@dataclass
class ReleaseFacts:
    """One torch release as the registry has it."""

    torch: str
    released: str  # the date of the first upload
    python_min: str
    python_max: str
    requires_python: str
    platforms: List[str]
    builds: Dict[str, str]  # platform -> cuXYZ / cpu (the registry's default build there)
    companions: Dict[str, str]  # the companion chosen for each project
    admitted: Dict[str, List[str]]  # every companion release whose requirements admit it
    sources: List[str]


def pick_companion(
    version: str, released_at: str, candidates: List[CompanionFacts]
) -> Tuple[Optional[str], List[str]]:
    """An == pin on this release; else one uploaded with it (24 h); else the newest lower bound."""
    admitting = sorted(
        (c for c in candidates if c.admits(version)), key=lambda c: Version(c.version)
    )
    names = [c.version for c in admitting]
    for rule in (
        lambda c: c.torch.startswith("=="),
        lambda c: within(c.uploaded, released_at, 24),
        lambda c: bool(c.torch),
    ):
        chosen = [c for c in admitting if rule(c)]
        if chosen:
            return chosen[-1].version, names
    return None, names


def release_facts(
    version: str,
    files: List[Wheel],
    metadata: Dict[str, Tuple[str, str]],  # platform -> (wheel filename, METADATA text)
    companions: Dict[str, List[CompanionFacts]],
    sources: List[str],
) -> ReleaseFacts:
    """What the registry says of one torch release, from its files and one METADATA per platform."""
    mine = [w for w in files if w.version == version]
    low, high = python_range(mine)
    builds: Dict[str, str] = {}
    requires = sorted({w.requires_python for w in mine if w.requires_python})
    for platform, (name, text) in sorted(metadata.items()):
        requires_python, requirements = parse_metadata(text, name)
        builds[platform] = build_for(requirements, platform, low or "3.11")
        if requires_python and requires_python not in requires:
            requires.append(requires_python)
    released_at = first_upload(mine)
    chosen: Dict[str, str] = {}
    admitted: Dict[str, List[str]] = {}
    for project, candidates in companions.items():
        pick, names = pick_companion(version, released_at, candidates)
        admitted[project] = names
        if pick:
            chosen[project] = pick
    return ReleaseFacts(
        version,
        released_at[:10],
        low,
        high,
        requires[0] if len(requires) == 1 else ",".join(requires),
        [p for p in PLATFORMS if any(w.platform == p for w in mine)],
        builds,
        chosen,
        admitted,
        sources,
    )
