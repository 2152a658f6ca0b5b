"""The shapes of the profile files; each value is checked as it is loaded (ValueError -> file:line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from gpusetup.errors import UsageError
from gpusetup.versions import CudaVersion, DriverVersion

PROFILE_SCHEMA = "gpusetup.profiles/1"


def _check_source(url: str) -> None:
    if not url.startswith("https://"):
        raise ValueError(f"source must be an https:// URL, got {url!r}")


def _check(parse: object, text: str, what: str) -> None:
    try:
        parse(text)  # type: ignore[operator]
    except UsageError:
        raise ValueError(f"not a valid {what}: {text!r}") from None


@dataclass(frozen=True)
class PerOS:
    linux: str
    windows: str

    def __post_init__(self) -> None:
        _check(DriverVersion.parse, self.linux, "driver version")
        _check(DriverVersion.parse, self.windows, "driver version")

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
        _check(CudaVersion.parse, self.cuda, "CUDA version")
        _check_source(self.source)

    @property
    def version(self) -> CudaVersion:
        return CudaVersion.parse(self.cuda)


@dataclass(frozen=True)
class CudaFile:
    schema: str
    kind: str
    toolkits: List[CudaToolkit]


@dataclass
class Profiles:
    """Everything loaded from the profile directories, indexed for the decisions that use it."""

    toolkits: Dict[CudaVersion, CudaToolkit] = field(default_factory=dict)
    files: List[str] = field(default_factory=list)

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
