"""What install needs to know of the target interpreter, without importing torch (fast)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from dataclasses import dataclass, field
from typing import Dict

from gpusetup.errors import UsageError
from gpusetup.plumbing import process

_SCRIPT = r"""
import json, os, platform, sys
found = {}
try:
    from importlib import metadata
    for name in ("torch", "torchvision", "torchaudio", "numpy"):
        try:
            found[name] = metadata.version(name)  # a name lookup: no scan of every installed dist
        except metadata.PackageNotFoundError:
            pass
except ImportError:
    pass
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
    installed: Dict[str, str] = field(default_factory=dict)  # torch family (and numpy) -> version


def describe_python(python: str, timeout: float = 60) -> PythonEnv:
    """Run the description script in python; in-process when python is this interpreter (no spawn)."""
    # Exact match only: a venv's python is a symlink to the base one but is another environment.
    if python == sys.executable:
        return _from_output(python, _in_process())
    result = process.run([python, "-c", _SCRIPT], timeout=timeout, scratch=True)
    return _from_output(python, result.stdout, result.stderr)


def _in_process() -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(_SCRIPT, "<gpusetup-pyenv>", "exec"), {"__name__": "__gpusetup__"})
    return buffer.getvalue()


def _from_output(python: str, stdout: str, stderr: str = "") -> PythonEnv:
    for line in stdout.splitlines():
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
        (stderr.strip().splitlines() or [""])[-1],
    )
