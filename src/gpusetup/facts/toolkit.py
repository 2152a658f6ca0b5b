"""Facts about the system CUDA toolkit, cuDNN and LD_LIBRARY_PATH (outside any Python env)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Tuple

from gpusetup.facts.host import ld_library_dirs
from gpusetup.facts.model import LibraryDir, NvccFacts, ToolkitFacts
from gpusetup.plumbing import process

# The libraries a torch wheel ships itself (in site-packages/nvidia/*) that a system copy can shadow.
SHADOWING_LIBS = ("libcudart", "libcudnn", "libnccl", "libcublas", "libnvJitLink", "libcusparse")
_LIB_PATTERN = re.compile(r"^(libcuda|" + "|".join(SHADOWING_LIBS) + r")[._].*so")


def collect_toolkit(
    environ: Optional[Mapping[str, str]] = None,
    which: Callable[[str], Optional[str]] = process.which,
    root: str = "/",
) -> ToolkitFacts:
    env = os.environ if environ is None else environ
    facts = ToolkitFacts(nvcc=_all_nvcc(env, which, Path(root)))
    facts.cuda_home, facts.cuda_home_via = find_cuda_home(env, which, Path(root))
    if facts.cuda_home is not None:
        facts.cuda_home_exists = Path(facts.cuda_home).is_dir()
    facts.cudnn_version, facts.cudnn_location = _system_cudnn(facts.cuda_home, Path(root))
    facts.ld_library_path = _library_dirs(env.get("LD_LIBRARY_PATH"))
    return facts


def find_cuda_home(
    env: Mapping[str, str], which: Callable[[str], Optional[str]], root: Path
) -> Tuple[Optional[str], str]:
    """The toolkit torch.utils.cpp_extension would pick: CUDA_HOME, CUDA_PATH, nvcc, /usr/local/cuda."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(var):
            return env[var], var
    nvcc = which("nvcc")
    if nvcc:
        # torch takes dirname(dirname(which nvcc)) without resolving links; so do we.
        return os.path.dirname(os.path.dirname(nvcc)), "nvcc on PATH"
    default = root / "usr/local/cuda"
    if default.exists():
        return str(default), "/usr/local/cuda"
    return None, ""


def _all_nvcc(
    env: Mapping[str, str], which: Callable[[str], Optional[str]], root: Path
) -> List[NvccFacts]:
    candidates: List[Tuple[str, str]] = []
    on_path = which("nvcc")
    if on_path:
        candidates.append((on_path, "PATH"))
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(var):
            candidates.append((str(Path(env[var]) / "bin" / "nvcc"), var))
    for home in sorted((root / "usr/local").glob("cuda*")):
        candidates.append((str(home / "bin" / "nvcc"), str(home)))
    found: List[NvccFacts] = []
    seen = set()
    for path, via in candidates:
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        found.append(
            NvccFacts(path=path, version=_toolkit_version(Path(real).parent.parent), found_via=via)
        )
    return found


def _toolkit_version(home: Path) -> Optional[str]:
    """The toolkit's own version file is read first: it is instant, where nvcc takes a subprocess."""
    try:
        data = json.loads((home / "version.json").read_text())
        return ".".join(str(data["cuda"]["version"]).split(".")[:2])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    result = process.run([str(home / "bin" / "nvcc"), "--version"], timeout=10)
    match = re.search(r"release (\d+\.\d+)", result.stdout)
    return match.group(1) if match else None


_CUDNN_HEADER_DIRS = (
    "include",
    "usr/include",
    "usr/include/x86_64-linux-gnu",
    "usr/local/cuda/include",
)
_CUDNN_LIB_DIRS = (
    "usr/lib/x86_64-linux-gnu",
    "usr/lib64",
    "usr/local/cuda/lib64",
    "usr/lib/aarch64-linux-gnu",
)


def _system_cudnn(cuda_home: Optional[str], root: Path) -> Tuple[Optional[str], Optional[str]]:
    headers = [Path(cuda_home) / "include"] if cuda_home else []
    headers += [root / d for d in _CUDNN_HEADER_DIRS[1:]]
    for directory in headers:
        header = directory / "cudnn_version.h"
        version = _cudnn_header_version(header)
        if version:
            return version, str(header)
    for lib_dir in _CUDNN_LIB_DIRS:
        for lib in sorted((root / lib_dir).glob("libcudnn.so.*")):
            return lib.name.split(".so.", 1)[1], str(lib)
    return None, None


def _cudnn_header_version(header: Path) -> Optional[str]:
    try:
        text = header.read_text(errors="replace")
    except OSError:
        return None
    parts = [
        re.search(rf"#define CUDNN_{n}\s+(\d+)", text) for n in ("MAJOR", "MINOR", "PATCHLEVEL")
    ]
    if not all(parts):
        return None
    return ".".join(m.group(1) for m in parts if m)


def _library_dirs(value: Optional[str]) -> List[LibraryDir]:
    dirs = []
    for entry in ld_library_dirs(value):
        try:
            names = sorted(n for n in os.listdir(entry) if _LIB_PATTERN.match(n))
        except OSError:
            names = []
        dirs.append(LibraryDir(path=entry, libraries=names))
    return dirs
