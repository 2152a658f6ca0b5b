"""What install needs to know of the target interpreter, without importing torch (fast)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict

from gpusetup.errors import UsageError
from gpusetup.facts import process

_SCRIPT = r"""
import json, os, platform, sys
try:
    from importlib import metadata
    found = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        if name in ("torch", "torchvision", "torchaudio"):
            found[name] = dist.version
except Exception:
    found = {}
print("GPUSETUP-PYENV:" + json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "full_version": platform.python_version(),
    "os": platform.system().lower(),
    "arch": platform.machine().lower(),
    "prefix": sys.prefix,
    "conda": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
    "installed": found,
}))
"""


@dataclass(frozen=True)
class PythonEnv:
    python: str
    version: str  # 3.11
    full_version: str
    os: str  # linux, windows, darwin
    arch: str  # x86_64, aarch64, arm64, amd64
    prefix: str
    conda: bool
    installed: Dict[str, str] = field(default_factory=dict)  # torch family name -> version


def describe_python(python: str, timeout: float = 60) -> PythonEnv:
    result = process.run([python, "-c", _SCRIPT], timeout=timeout, cwd=process.scratch_dir())
    for line in result.stdout.splitlines():
        if line.startswith("GPUSETUP-PYENV:"):
            data = json.loads(line.split(":", 1)[1])
            arch = "x86_64" if data["arch"] in ("amd64", "x86_64") else data["arch"]
            return PythonEnv(
                python=python,
                version=data["version"],
                full_version=data["full_version"],
                os=data["os"],
                arch=arch,
                prefix=data["prefix"],
                conda=data["conda"],
                installed=data["installed"],
            )
    raise UsageError(
        f"--python {python}: could not describe this interpreter",
        (result.stderr.strip().splitlines() or [""])[-1],
    )
