"""The shapes of the profile files; each value is checked as it is loaded (ValueError -> file:line)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import Version

from gpusetup.profiles.companions import (
    CompanionRelease,
    CondaEnd,
    CondaForge,
    check_requires_python,
)
from gpusetup.profiles.fields import check_https, check_parses, check_source, check_version
from gpusetup.profiles.known_broken import BrokenBuild
from gpusetup.profiles.measures import RATED, Dtype
from gpusetup.profiles.stacks import Stack
from gpusetup.versions import CPU_BUILD, BuildVariant, CudaVersion, DriverVersion, public_version

PROFILE_SCHEMA = "gpusetup.profiles/1"


@dataclass(frozen=True)
class PerOS:
    linux: str
    windows: str

    def __post_init__(self) -> None:
        check_parses(DriverVersion.parse, self.linux, "linux")
        check_parses(DriverVersion.parse, self.windows, "windows")

    def for_os(self, os_name: str) -> DriverVersion:
        return DriverVersion.parse(self.windows if os_name.lower() == "windows" else self.linux)


@dataclass(frozen=True)
class CudaToolkit:
    """Driver floors of one CUDA minor version, with where they come from."""

    cuda: str
    driver: PerOS
    minor_compat: PerOS
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        check_parses(CudaVersion.parse, self.cuda, "cuda")
        check_source(self.source)

    @property
    def version(self) -> CudaVersion:
        return CudaVersion.parse(self.cuda)


@dataclass(frozen=True)
class CudaFile:
    schema: str
    kind: str
    toolkits: List[CudaToolkit]


@dataclass(frozen=True)
class PythonRange:
    min: str
    max: str

    def __post_init__(self) -> None:
        check_version(self.min, "min")
        check_version(self.max, "max")

    def allows(self, python: str) -> bool:
        minor = Version(".".join(python.split(".")[:2]))
        return Version(self.min) <= minor <= Version(self.max)


@dataclass(frozen=True)
class ArchSet:
    archs: List[str]
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        check_source(self.source)


@dataclass(frozen=True)
class Aarch64:
    pypi_default: BuildVariant
    archs: Dict[BuildVariant, str] = field(default_factory=dict)  # variant -> arch set name


@dataclass(frozen=True)
class CondaChannel:
    """The `-c pytorch -c nvidia` channel (2.0 to 2.5.1): which pytorch-cuda versions and companions."""

    cuda: List[str]
    torchvision: str
    torchaudio: str


@dataclass(frozen=True)
class TorchRelease:
    """One PyTorch release and what was published for it."""

    torch: str
    python: PythonRange
    platforms: List[str]
    pypi_default: BuildVariant  # the variant a bare `pip install torch` gets on Linux x86_64
    variants: List[BuildVariant]
    archs: Dict[BuildVariant, str]  # CUDA variant -> arch set name (Linux x86_64 wheels)
    aarch64: Aarch64
    companions: Dict[
        str, str
    ]  # torchvision / torchaudio that pair with it; absent = none confirmed
    source: str
    confirmed: bool
    released: str = ""
    conda: Optional[CondaChannel] = None
    note: str = ""
    requires_python: str = (
        ""  # the wheels' own Requires-Python (>=3.11), checked with the full version
    )
    # Facts not read from a shipped-release source: variants.cu126, companions.torchaudio, ...
    unconfirmed: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_version(self.torch, "torch")
        check_source(self.source)
        check_requires_python(self.requires_python)
        for item in self.unconfirmed:
            kind, _, name = item.partition(".")
            known = {
                "variants": [str(v) for v in self.variants],
                "companions": list(self.companions),
            }.get(kind)
            if known is None or name not in known:
                raise ValueError(
                    f"unconfirmed: {item!r} names no variant or companion of this release"
                )
        for name, version in self.companions.items():
            if name not in ("torchvision", "torchaudio"):
                raise ValueError(f"unknown companion {name!r} (torchvision, torchaudio)")
            check_version(version, "companions")
        missing = [v for v in self.variants if v.is_cuda and v not in self.archs]
        if missing:
            raise ValueError(f"archs: no arch set for variant {missing[0]}")

    @property
    def version(self) -> Version:
        return Version(self.torch)

    def variant_confirmed(self, variant: BuildVariant) -> bool:
        return f"variants.{variant}" not in self.unconfirmed

    def companion_confirmed(self, name: str) -> bool:
        return f"companions.{name}" not in self.unconfirmed

    def default_build(self, platform: str) -> BuildVariant:
        """The build a bare install from the registry gets on this platform.

        Every CUDA requirement of the registry's torch wheels is marked platform_system == "Linux"
        (and, up to 2.10, platform_machine == "x86_64"), so Windows and macOS get CPU builds.
        """
        if platform == "linux_x86_64":
            return self.pypi_default
        if platform == "linux_aarch64":
            return self.aarch64.pypi_default
        return CPU_BUILD


@dataclass(frozen=True)
class NumpyRule:
    """Which torch wheels can use NumPy 2: older ones were compiled against the NumPy 1.x C API."""

    numpy2_from: str  # the first torch release whose wheels work with NumPy 2
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        check_version(self.numpy2_from, "numpy2_from")
        check_https(self.source, "source")

    def torch_needs_numpy1(self, torch_version: str) -> bool:
        release = public_version(torch_version)
        return release is not None and release < Version(self.numpy2_from)


@dataclass(frozen=True)
class TorchFile:
    schema: str
    kind: str
    index_base: str
    arch_sets: Dict[str, ArchSet]
    releases: List[TorchRelease]
    conda_forge: Optional[CondaForge] = None
    numpy: Optional[NumpyRule] = None
    conda_channel: Optional[CondaEnd] = None
    companion_releases: Dict[str, List[CompanionRelease]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_https(self.index_base, "index_base")
        for name in self.companion_releases:
            if name not in ("torchvision", "torchaudio"):
                raise ValueError(
                    f"companion_releases: unknown package {name!r} (torchvision, torchaudio)"
                )

    def unknown_arch_sets(self) -> List[Tuple[int, str, bool]]:
        """(release index, name, in aarch64's table) of each arch set a release names and the file
        lacks: checked by the loader, which knows the lines, so `profiles validate` lists them all."""
        return [
            (i, name, aarch64)
            for i, release in enumerate(self.releases)
            for aarch64, table in ((False, release.archs), (True, release.aarch64.archs))
            for name in table.values()
            if name not in self.arch_sets
        ]


DTYPES = tuple(d.value for d in Dtype)
BENCHMARKS = tuple(b.value for b in RATED)


@dataclass(frozen=True)
class GpuModel:
    """One GPU model's datasheet numbers, matched to device names by regular expressions."""

    name: str
    match: List[str]
    peak_tflops: Dict[str, float]
    memory_gbps: float
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        check_source(self.source)
        for pattern in self.match:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"match: bad regular expression {pattern!r}: {err}") from None
        for dtype in self.peak_tflops:
            if dtype not in DTYPES:
                raise ValueError(f"peak_tflops: unknown dtype {dtype!r} ({', '.join(DTYPES)})")

    def matches(self, device_name: str) -> bool:
        return any(re.search(p, device_name, re.IGNORECASE) for p in self.match)


@dataclass(frozen=True)
class GpusFile:
    schema: str
    kind: str
    floor_factor: float
    achieved: Dict[str, Any]  # benchmark -> fraction, or dtype -> fraction
    achieved_source: str
    pcie_gbps: Dict[str, float]
    pcie_source: str
    models: List[GpuModel]
    achieved_note: str = ""

    def __post_init__(self) -> None:
        check_source(self.achieved_source)
        for benchmark, value in self.achieved.items():
            if benchmark not in BENCHMARKS:
                raise ValueError(
                    f"achieved: unknown benchmark {benchmark!r} ({', '.join(BENCHMARKS)})"
                )
            fractions = value.values() if isinstance(value, dict) else [value]
            if not all(isinstance(f, (int, float)) and 0 < f <= 1 for f in fractions):
                raise ValueError(f"achieved: {benchmark} fractions must be numbers in (0, 1]")


@dataclass
class Profiles:
    """Everything loaded from the profile directories, indexed for the decisions that use it."""

    toolkits: Dict[CudaVersion, CudaToolkit] = field(default_factory=dict)
    releases: Dict[str, TorchRelease] = field(default_factory=dict)
    arch_sets: Dict[str, ArchSet] = field(default_factory=dict)
    stacks: Dict[str, Stack] = field(default_factory=dict)
    index_base: str = "https://download.pytorch.org/whl"
    conda_forge: Optional[CondaForge] = None
    conda_channel: Optional[CondaEnd] = None
    numpy: Optional[NumpyRule] = None
    gpus: Optional[GpusFile] = None
    # torchvision/torchaudio -> version -> what its metadata declares
    companion_releases: Dict[str, Dict[str, CompanionRelease]] = field(default_factory=dict)
    known_broken: List[BrokenBuild] = field(default_factory=list)
    files: List[str] = field(default_factory=list)

    def gpu_model(self, device_name: str) -> Optional[GpuModel]:
        """The first model whose pattern matches the NVML/torch name (order in the file matters)."""
        if self.gpus is None:
            return None
        return next((m for m in self.gpus.models if m.matches(device_name)), None)

    def companion(self, name: str, version: str) -> Optional[CompanionRelease]:
        return self.companion_releases.get(name, {}).get(version)

    def newest_companion(self, name: str) -> Optional[CompanionRelease]:
        found = list(self.companion_releases.get(name, {}).values())
        return max(found, key=lambda c: Version(c.version)) if found else None

    def sorted_releases(self) -> List[TorchRelease]:
        """Newest first, compared as versions (2.10 > 2.9)."""
        return sorted(self.releases.values(), key=lambda r: r.version, reverse=True)

    def archs(
        self, release: TorchRelease, variant: BuildVariant, machine: str = "x86_64"
    ) -> List[str]:
        table = release.aarch64.archs if machine == "aarch64" else release.archs
        name = table.get(variant)
        return list(self.arch_sets[name].archs) if name else []

    def toolkit(self, cuda: CudaVersion) -> Optional[CudaToolkit]:
        """The row for cuda, else the nearest older row of the same major (same minor-compat floor)."""
        if cuda in self.toolkits:
            return self.toolkits[cuda]
        older = [v for v in self.toolkits if v.major == cuda.major and v < cuda]
        return self.toolkits[max(older)] if older else None

    def max_cuda_for_driver(
        self, driver: DriverVersion, os_name: str = "linux"
    ) -> Optional[CudaVersion]:
        """The newest CUDA whose full-toolkit driver is at or below driver (when NVML cannot say)."""
        fits = [v for v, t in self.toolkits.items() if t.driver.for_os(os_name) <= driver]
        return max(fits) if fits else None
