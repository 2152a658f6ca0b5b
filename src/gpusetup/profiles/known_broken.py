"""Releases with a known defect: which builds, what breaks, the release that fixes it, and the source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from packaging.version import InvalidVersion, Version

from gpusetup.versions import BuildVariant, public_version

PLATFORMS = ("linux", "windows", "darwin")


def _version(text: str, name: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise ValueError(f"{name}: not a version: {text!r}") from None


@dataclass(frozen=True)
class BrokenBuild:
    """torch `torch` (public version) in the listed variants (local tags, e.g. cu118; none: all)."""

    id: str  # kebab-case, stable: named in the finding's evidence
    torch: str
    symptom: str  # the error users see
    fixed_in: str
    source: str
    variants: List[BuildVariant] = field(default_factory=list)
    platforms: List[str] = field(default_factory=list)
    workaround: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not self.source.startswith("https://"):
            raise ValueError(f"source: must be an https:// URL, got {self.source!r}")
        if _version(self.fixed_in, "fixed_in") <= _version(self.torch, "torch"):
            raise ValueError(f"fixed_in: {self.fixed_in} is not after torch {self.torch}")
        for platform in self.platforms:
            if platform not in PLATFORMS:
                raise ValueError(f"platforms: {platform!r} is not one of {', '.join(PLATFORMS)}")

    def matches(self, version: str, os_name: str) -> bool:
        """version as torch prints it (2.0.0+cu118): same public release, listed variant and platform."""
        public, _, local = version.partition("+")
        same = public_version(public) == Version(self.torch)
        return (
            same
            and (not self.variants or local in [str(v) for v in self.variants])
            and (not self.platforms or os_name in self.platforms)
        )


@dataclass(frozen=True)
class KnownBrokenFile:
    schema: str
    kind: str
    builds: List[BrokenBuild]

    def __post_init__(self) -> None:
        ids = [b.id for b in self.builds]
        duplicate: Optional[str] = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            raise ValueError(f"builds: id {duplicate!r} appears twice")
