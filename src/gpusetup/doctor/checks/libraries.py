"""The libraries torch loads: LD_LIBRARY_PATH shadowing, a forward-compat libcuda, and cuDNN."""

from __future__ import annotations

import os
import re
from typing import Iterator, List, Optional, Tuple

from gpusetup.doctor.checks.fix_commands import REINSTALL, WHEEL_OF_LIBRARY
from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import LibraryDir

ERROR, WARNING = Severity.ERROR, Severity.WARNING

# What torch's own cuDNN check said: the error text names the versions and often the cause.
_INCOMPATIBLE = re.compile(
    r"compiled\s+against\s+(\(?[\d, ]+\)?)\s+but\s+(?:found runtime version|linked against)\s+(\(?[\d, ]+\)?)"
)
_MISSING_DEP = re.compile(r"Could not load library (libcudnn\S*?)\.? Error: (\S+?): cannot open")


def _cudnn_dirs(ctx: Context) -> List[str]:
    """The LD_LIBRARY_PATH directories that hold a libcudnn."""
    return [
        d.path
        for d in ctx.facts.toolkit.ld_library_path
        if any(n.startswith("libcudnn") for n in d.libraries)
    ]


@check(cudnn_load_failed="torch's cuDNN failed to load or is not the version torch was built with")
def cudnn_error(ctx: Context) -> Iterator[Finding]:
    text = ctx.facts.torch.cudnn_error
    if not text:
        return
    evidence = {"cudnn_error": text[:300], "cudnn_dirs_on_path": _cudnn_dirs(ctx) or None}
    mismatch, missing = _INCOMPATIBLE.search(text), _MISSING_DEP.search(text)
    if mismatch:
        # A paste lists LD_LIBRARY_PATH without the files in it: a directory named for cuDNN is it.
        dirs = _cudnn_dirs(ctx) or [
            d.path for d in ctx.facts.toolkit.ld_library_path if "cudnn" in d.path.lower()
        ]
        where = ":".join(dirs) if dirs else "the directory holding it (ldconfig -p | grep libcudnn)"
        title = (
            f"torch was built with cuDNN {mismatch.group(1)} but loads cuDNN {mismatch.group(2)}"
        )
        fix = (
            f"Let torch load its own cuDNN: drop {where} from LD_LIBRARY_PATH for this program "
            "(unset LD_LIBRARY_PATH, or set it without that directory)"
        )
    elif missing:
        title = f"{missing.group(1)} cannot load because {missing.group(2)} is missing"
        fix = (
            f"Make {missing.group(2)} loadable: install the wheel that ships it (libnvrtc: "
            "nvidia-cuda-nvrtc-cu<major>) or the CUDA toolkit's copy; for torch 2.0.0+cu118 move to 2.0.1 "
            "(see known-broken-build)"
        )
    else:
        title = "torch.backends.cudnn fails: " + text.splitlines()[0][:160]
        fix = "Reinstall torch with its bundled cuDNN and keep foreign libcudnn directories off LD_LIBRARY_PATH"
    yield Finding("cudnn-load-failed", Severity.ERROR, title, fix, evidence)


@check(cudnn_unavailable="torch cannot use cuDNN (convolutions slow or failing)")
def cudnn(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if (
        ctx.torch_ok
        and torch.cuda_build
        and torch.cuda_available
        and (torch.cudnn_available is False or torch.cudnn_enabled is False)
    ):
        yield Finding(
            "cudnn-unavailable",
            WARNING,
            "cuDNN is unavailable or disabled in torch",
            "Reinstall torch with its bundled cuDNN and drop foreign libcudnn directories from "
            f"LD_LIBRARY_PATH: {REINSTALL}",
            {"cudnn_available": torch.cudnn_available, "cudnn_enabled": torch.cudnn_enabled},
        )


@check(cudnn_version_mix="a system cuDNN of another major version is on the library path")
def cudnn_mix(ctx: Context) -> Iterator[Finding]:
    torch, toolkit = ctx.facts.torch, ctx.facts.toolkit
    if not ctx.torch_ok or not torch.cudnn_version or not toolkit.cudnn_version:
        return
    torch_major = (
        torch.cudnn_version // 10000
        if torch.cudnn_version >= 10000
        else torch.cudnn_version // 1000
    )
    major_text = re.match(r"[0-9]{1,9}(?![0-9])", toolkit.cudnn_version.strip())
    if major_text is None:  # not a version (a replayed, hand-edited file): nothing to compare
        return
    system_major = int(major_text.group())
    on_path = _cudnn_dirs(ctx)
    if system_major != torch_major and on_path:
        yield Finding(
            "cudnn-version-mix",
            WARNING,
            f"cuDNN {system_major} on LD_LIBRARY_PATH, torch uses cuDNN {torch_major}: "
            "'Could not load library libcudnn_*' in whichever program loads the wrong one",
            "Keep one cuDNN per process: drop "
            + ":".join(on_path)
            + " from LD_LIBRARY_PATH, or install "
            f"the cuDNN the other program needs as a wheel (nvidia-cudnn-cu12=={system_major}.*) in its own env",
            {
                "system_cudnn": toolkit.cudnn_version,
                "torch_cudnn": torch.cudnn_version,
                "dirs": on_path,
            },
        )


def _is_wheel_dir(path: str) -> bool:
    return "site-packages" in path or "dist-packages" in path


def symbol_failure(error: str) -> Optional[Tuple[str, str]]:
    """(the library that failed, the library it wanted the symbol from) of an undefined-symbol error.

    "<site>/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: undefined symbol:
    __nvJitLinkAddData_12_1, version libnvJitLink.so.12": torch's wheel found an older libnvJitLink
    first (pytorch/pytorch#111469); the symbol's version names the library it wanted.
    """
    at = error.find(": undefined symbol: ")
    if at < 0:
        return None
    head = error[:at].split()
    wanted = re.search(r", version (lib[\w+-]{1,80}?)\.so", error[at : at + 400])
    return (head[-1] if head else "", wanted.group(1) if wanted else "")


def _wheel_dir(failed: str, wanted: str) -> Optional[str]:
    """The lib directory of the nvidia-* wheel that ships `wanted`, beside the wheel that failed."""
    path = os.path.normpath(failed)
    marker = os.sep + "nvidia" + os.sep
    part = WHEEL_OF_LIBRARY.get(wanted)
    if marker not in path or part is None:
        return None
    site = path[: path.rindex(marker)]
    return os.path.join(site, "nvidia", part.replace("-", "_"), "lib")


def _may_shadow(dirs: List[LibraryDir], wanted: str) -> List[str]:
    """The LD_LIBRARY_PATH directories that may hold an older `wanted`: not a wheel's, not the driver's
    own (/usr/local/nvidia/lib*, only libcuda and its kin), and, where their files are known, holding it."""
    return [
        d.path
        for d in dirs
        if not _is_wheel_dir(d.path)
        and not os.path.normpath(d.path).startswith("/usr/local/nvidia/lib")
        and (not d.libraries or any(n.startswith(wanted + ".") for n in d.libraries))
    ]


def _shadowing_fix(dirs: List[str], symbol: Optional[Tuple[str, str]]) -> str:
    fix = "Remove these directories from LD_LIBRARY_PATH for this environment: " + ":".join(dirs)
    wheel_dir = _wheel_dir(*symbol) if symbol else None
    if wheel_dir:
        fix += f"   (or put torch's own first: export LD_LIBRARY_PATH={wheel_dir}:$LD_LIBRARY_PATH)"
    return fix


@check(ld_library_path_shadowing="LD_LIBRARY_PATH puts system CUDA libraries ahead of torch's own")
def library_path(ctx: Context) -> Iterator[Finding]:
    dirs = ctx.facts.toolkit.ld_library_path
    loaded = ctx.facts.torch.loaded_libraries
    ld_dirs = {os.path.normpath(d.path) for d in dirs}
    foreign = [
        lib
        for lib in loaded
        if lib.name != "libcuda"
        and os.path.normpath(os.path.dirname(lib.path)) in ld_dirs
        and not _is_wheel_dir(lib.path)
    ]
    holders = [d for d in dirs if any(not n.startswith("libcuda.") for n in d.libraries)]
    symbol = symbol_failure(ctx.facts.torch.error)
    # where no library's path is known: the directories that may hold the one the symbol names
    system = _may_shadow(dirs, symbol[1]) if symbol and symbol[1] in WHEEL_OF_LIBRARY else []
    if foreign:
        if symbol and symbol[1] not in WHEEL_OF_LIBRARY:  # a cut message: the library ldd resolved
            symbol = (symbol[0], foreign[0].name)
        yield Finding(
            "ld-library-path-shadowing",
            ERROR,
            "torch loaded CUDA libraries from LD_LIBRARY_PATH instead of its own wheels: "
            + ", ".join(sorted({lib.name for lib in foreign}))
            + (" (the cause of the import error)" if symbol else ""),
            _shadowing_fix(sorted({os.path.dirname(lib.path) for lib in foreign}), symbol),
            {"loaded": [lib.path for lib in foreign], "error": ctx.facts.torch.error or None},
        )
    elif symbol and system:
        yield Finding(
            "ld-library-path-shadowing",
            ERROR,
            f"import torch fails: {os.path.basename(symbol[0]) or 'a library of torch'} needs a newer "
            f"{symbol[1]} than the one LD_LIBRARY_PATH finds first",
            _shadowing_fix(system, symbol),
            {"dirs": system, "error": ctx.facts.torch.error},
        )
    elif holders and ctx.facts.torch.nvidia_wheels:
        yield Finding(
            "ld-library-path-shadowing",
            WARNING,
            "LD_LIBRARY_PATH holds CUDA libraries that can shadow the ones torch's wheels ship",
            "Unset LD_LIBRARY_PATH (or drop "
            + ":".join(d.path for d in holders)
            + ") when running torch",
            {"dirs": {d.path: d.libraries for d in holders}},
        )


@check(cuda_compat_libs="a forward-compatibility libcuda is on the library path (CUDA error 804)")
def compat_libcuda(ctx: Context) -> Iterator[Finding]:
    dirs = ctx.facts.toolkit.ld_library_path
    loaded = ctx.facts.torch.loaded_libraries
    compat = [
        d.path
        for d in dirs
        if "compat" in d.path and any(n.startswith("libcuda.") for n in d.libraries)
    ]
    compat += [lib.path for lib in loaded if lib.name == "libcuda" and "/compat/" in lib.path]
    if compat:
        consumer = any((g.brand or "").startswith(("GeForce", "Titan", "Quadro")) for g in ctx.gpus)
        yield Finding(
            "cuda-compat-libs",
            ERROR if consumer else WARNING,
            "A forward-compatibility libcuda (cuda-compat) is on the library path"
            + (": not supported on this GPU, CUDA error 804" if consumer else ""),
            "Remove the compat directory from LD_LIBRARY_PATH ("
            + ", ".join(sorted(set(compat)))
            + "), or upgrade the host driver instead of using cuda-compat",
            {"paths": sorted(set(compat))},
        )
