"""What ships around torch: torchvision/torchaudio releases as their metadata declares them, conda."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def check_requires_python(text: str, field: str = "requires_python") -> None:
    """A PEP 440 specifier set, as a wheel's Requires-Python (>=3.10,!=3.14.1)."""
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(f"{field}: not a valid specifier: {text!r}") from None


def python_admitted(spec: str, python: str) -> bool:
    """Whether the full Python version (3.14.1) meets a Requires-Python; 3.14 stands for 3.14.0."""
    return not spec or SpecifierSet(spec).contains(python, prereleases=True)


@dataclass(frozen=True)
class CompanionRelease:
    """One torchvision/torchaudio release as its own wheel metadata declares it."""

    version: str
    torch: str  # its Requires-Dist on torch (==2.14.0, >=2.14.0); "" when it declares none
    python: str  # its Requires-Python; "" when it declares none
    source: str
    wheels: str = ""  # py3, or the CPython tags it ships (cp310-cp314)
    note: str = ""

    def __post_init__(self) -> None:
        try:
            Version(self.version)
        except InvalidVersion:
            raise ValueError(f"version: not a valid version: {self.version!r}") from None
        if not self.source.startswith("https://"):
            raise ValueError(f"source: must be an https:// URL, got {self.source!r}")
        check_requires_python(self.python, "python")
        check_requires_python(self.torch, "torch")

    def admits(self, torch_version: str) -> bool:
        """Whether its torch requirement admits this torch release (no requirement: any)."""
        base = torch_version.split("+", 1)[0]
        return not self.torch or SpecifierSet(self.torch).contains(base, prereleases=True)

    def runs_on(self, python: str) -> bool:
        """Its Requires-Python and, for CPython-tagged wheels, its newest tag (cp310-cp314)."""
        if not python_admitted(self.python, python):
            return False
        tags = re.fullmatch(r"cp3(\d+)-cp3(\d+)", self.wheels)
        if tags:
            minor = int(python.split(".")[1])
            return int(tags.group(1)) <= minor <= int(tags.group(2))
        return True


@dataclass(frozen=True)
class CondaForge:
    """conda-forge's own torch builds: the commands, as its announcement gives them."""

    command: str  # conda install -c conda-forge pytorch-gpu
    source: str
    note: str = ""
    cpu_command: str = ""  # conda install -c conda-forge pytorch-cpu; "" when the profiles lack it

    def args(self, gpu: bool) -> List[str]:
        """The argument tail after `conda install`: -c conda-forge pytorch-gpu ([] when unknown)."""
        words = (self.command if gpu else self.cpu_command).split()
        return words[2:] if words[:2] == ["conda", "install"] else words


@dataclass(frozen=True)
class CondaEnd:
    """The last torch release the pytorch conda channel published."""

    last: str
    source: str

    def __post_init__(self) -> None:
        try:
            Version(self.last)
        except InvalidVersion:
            raise ValueError(f"last: not a valid version: {self.last!r}") from None
        if not self.source.startswith("https://"):
            raise ValueError(f"source: must be an https:// URL, got {self.source!r}")
