"""Site stacks (stacks.yaml): a named, pinned torch + build + Python, with its own index mirror."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List

from gpusetup.profiles.fields import check_version
from gpusetup.versions import BuildVariant

# RFC 3986's characters less the apostrophe (pip splits requirements-file options with shlex): no
# space, quote, backslash or control character can end the URL early and start a second option
# (`--extra-index-url`) in a requirements file, a shell line, a YAML or a TOML string.
_URL = re.compile(
    r"(https://[A-Za-z0-9.-]+(:[0-9]+)?|file://(localhost)?)(/[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]*)?"
)


def check_index_url(url: str) -> None:
    """A stack's index: one https:// or file:/// URL, nothing more."""
    if not _URL.fullmatch(url) or (url.startswith("file://") and "/" not in url[len("file://") :]):
        raise ValueError(
            f"index_url: must be an https:// URL (or file:///): one URL, no spaces, quotes or control characters, got {url!r}"
        )


@dataclass(frozen=True)
class Stack:
    """A named, pinned stack a site defines: our cluster = torch 2.4.1 + cu121 + Python 3.11."""

    name: str
    torch: str
    cuda: BuildVariant  # a variant, not a CUDA version: cu121, cpu, rocm6.1
    python: str = ""
    packages: List[str] = field(default_factory=list)
    index_url: str = (
        ""  # a private mirror of the PyTorch index for this variant (https:// or file:///)
    )
    note: str = ""

    def __post_init__(self) -> None:
        check_version(self.torch, "torch")
        if self.python:
            check_version(self.python, "python")
        if self.index_url:
            check_index_url(self.index_url)
        for package in self.packages:
            if package not in ("torch", "torchvision", "torchaudio"):
                raise ValueError(f"unknown package {package!r} (torch, torchvision, torchaudio)")


@dataclass(frozen=True)
class StacksFile:
    schema: str
    kind: str
    stacks: List[Stack]
