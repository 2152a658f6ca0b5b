"""Small typed value classes for the version-like things gpusetup compares.

Each parses from text, prints back as text and orders as numbers (2.10 > 2.9), never as strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from typing import Optional, Tuple

from packaging.version import InvalidVersion, Version

from gpusetup.errors import UsageError


def public_version(text: Optional[str]) -> Optional[Version]:
    """The release a version string names (2.4.1 of 2.4.1+cu121), or None where it names none: junk,
    or a part of 4300+ digits that int() refuses (facts are data, a crash there would be exit 4)."""
    try:
        return Version((text or "").split("+", 1)[0]) if text else None
    except (InvalidVersion, ValueError):
        return None


# At most 9 digits a part: int() of a 4300-digit part is refused by Python itself.
_DOTTED = re.compile(r"^\s*([0-9]{1,9}(?:\.[0-9]{1,9})*)\s*$")


def _dotted_ints(text: str, what: str) -> Tuple[int, ...]:
    match = _DOTTED.match(text)
    if not match:
        raise UsageError(f"not a valid {what}: {text!r}")
    return tuple(int(part) for part in match.group(1).split("."))


@total_ordering
@dataclass(frozen=True)
class DriverVersion:
    """An NVIDIA driver version such as 535.104.05; keeps its text for display."""

    parts: Tuple[int, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> DriverVersion:
        parts = _dotted_ints(text, "driver version")
        return cls(parts, text.strip())

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return _padded(self.parts, other.parts) < _padded(other.parts, self.parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return _padded(self.parts, other.parts) == _padded(other.parts, self.parts)

    def __hash__(self) -> int:
        return hash(tuple(self.parts) + (0,) * (4 - len(self.parts)))

    def __str__(self) -> str:
        return self.text

    @property
    def branch(self) -> int:
        """The driver branch (R535 for 535.104.05): what NVIDIA's compatibility rules speak of."""
        return self.parts[0]


def _padded(a: Tuple[int, ...], b: Tuple[int, ...]) -> Tuple[int, ...]:
    return a + (0,) * max(0, len(b) - len(a))


@total_ordering
@dataclass(frozen=True)
class CudaVersion:
    """A CUDA major.minor version: a toolkit, a wheel build (torch.version.cuda) or a driver's."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> CudaVersion:
        """Accept 12.4, 12.4.1 (the patch is dropped), cu124 and cu118."""
        raw = text.strip().lower()
        match = re.fullmatch(r"cu(\d{2,3})", raw)
        if match:
            digits = match.group(1)
            return cls(int(digits[:-1]), int(digits[-1]))
        parts = _dotted_ints(raw, "CUDA version")
        if len(parts) < 2:
            raise UsageError(f"not a valid CUDA version: {text!r}", "write it as 12.4 or cu124")
        return cls(parts[0], parts[1])

    @classmethod
    def from_nvml(cls, value: int) -> CudaVersion:
        """NVML and cudaDriverGetVersion encode 12.4 as 12040."""
        return cls(value // 1000, (value % 1000) // 10)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, CudaVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def tag(self) -> str:
        """The PyTorch wheel variant name: cu118, cu124, cu130."""
        return f"cu{self.major}{self.minor}"


@total_ordering
@dataclass(frozen=True)
class ComputeCapability:
    """A GPU's compute capability (8.6) or an arch in a build (sm_86, compute_90, sm_90a)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> ComputeCapability:
        """Accept 8.6, 86, sm_86, sm_90a, sm_100f and compute_90."""
        raw = text.strip().lower()
        match = re.fullmatch(r"(?:sm_|compute_)?([0-9]{1,9})(?:\.([0-9]{1,9}))?[af]?", raw)
        if not match:
            raise UsageError(
                f"not a valid compute capability: {text!r}", "write it as 8.6 or sm_86"
            )
        if match.group(2) is not None:
            return cls(int(match.group(1)), int(match.group(2)))
        digits = match.group(1)
        if len(digits) < 2:
            raise UsageError(
                f"not a valid compute capability: {text!r}", "write it as 8.6 or sm_86"
            )
        return cls(int(digits[:-1]), int(digits[-1]))

    @property
    def code(self) -> int:
        """The integer torch uses: 86 for 8.6, 120 for 12.0."""
        return self.major * 10 + self.minor

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ComputeCapability):
            return NotImplemented
        return self.code < other.code

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def optional_cuda(text: Optional[str]) -> Optional[CudaVersion]:
    """Parse a CUDA version that may be missing or malformed in recorded facts."""
    if not text:
        return None
    try:
        return CudaVersion.parse(text)
    except UsageError:
        return None


def optional_driver(text: Optional[str]) -> Optional[DriverVersion]:
    if not text:
        return None
    try:
        return DriverVersion.parse(text)
    except UsageError:
        return None
