"""Small typed value classes for the version-like things gpusetup compares.

Each parses from text, prints back as text and orders as numbers (2.10 > 2.9), never as strings.
"""

from __future__ import annotations

import enum
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
        match = re.fullmatch(r"cu([0-9]{2,3})", raw)
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


class VariantKind(enum.Enum):
    """What a torch build runs on: the local tag's prefix (cpu, cu121, rocm6.1)."""

    CPU = "cpu"
    CUDA = "cu"
    ROCM = "rocm"


_VARIANT = re.compile(r"cpu|cu([0-9]{2,3})|rocm([0-9]{1,9}(?:\.[0-9]{1,9})*)")


@total_ordering
@dataclass(frozen=True)
class BuildVariant:
    """A torch build variant (cpu, cu121, rocm6.1): ordered by version within a kind, never across
    kinds (a CUDA build is neither older nor newer than a ROCm one, as in light-the-torch)."""

    kind: VariantKind
    version: Tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> BuildVariant:
        """Exactly a local tag: cpu, cu121, rocm6.1; anything else (CU121, cu012, 12.1) is a ValueError."""
        match = _VARIANT.fullmatch(text)
        if not match:
            raise ValueError(f"not a valid variant (cpu, cuXYZ, rocmX.Y): {text!r}")
        if match.group(1):
            digits = match.group(1)
            variant = cls(VariantKind.CUDA, (int(digits[:-1]), int(digits[-1])))
        elif match.group(2):
            variant = cls(VariantKind.ROCM, tuple(int(p) for p in match.group(2).split(".")))
        else:
            variant = cls(VariantKind.CPU)
        if str(variant) != text:  # a leading zero (cu012, rocm6.01) would print as another tag
            raise ValueError(f"not a valid variant (cpu, cuXYZ, rocmX.Y): {text!r}")
        return variant

    @classmethod
    def for_cuda(cls, cuda: CudaVersion) -> BuildVariant:
        return cls(VariantKind.CUDA, (cuda.major, cuda.minor))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, BuildVariant):
            return NotImplemented
        if self.kind is not other.kind:
            raise TypeError(f"cannot order {self} against {other}: different kinds of build")
        return self.version < other.version

    def __repr__(self) -> str:
        return f"BuildVariant.parse({str(self)!r})"

    def __str__(self) -> str:
        if self.kind is VariantKind.CUDA:
            return CudaVersion(*self.version).tag
        if self.kind is VariantKind.ROCM:
            return "rocm" + ".".join(map(str, self.version))
        return "cpu"

    @property
    def cuda(self) -> Optional[CudaVersion]:
        """The CUDA the build was made with (12.1 for cu121); None for CPU and ROCm builds."""
        return CudaVersion(*self.version) if self.kind is VariantKind.CUDA else None

    @property
    def is_cuda(self) -> bool:
        return self.kind is VariantKind.CUDA

    @property
    def is_rocm(self) -> bool:
        return self.kind is VariantKind.ROCM

    @property
    def is_cpu(self) -> bool:
        return self.kind is VariantKind.CPU


CPU_BUILD = BuildVariant(VariantKind.CPU)


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
