"""PyTorch 2 readiness: what torch.compile (Inductor, Triton), bf16 and fast attention need beyond
a working `import torch`, judged from the compile facts the probe read in the target interpreter."""

from __future__ import annotations

import shlex
from typing import Iterator, List, Optional, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import CompileFacts, CompilerFacts
from gpusetup.rules.pytorch import build_supports_device
from gpusetup.rules.sdpa import (
    SdpaBackend,
    SdpaDtype,
    era_for,
    flash_range_text,
    usable_backends,
    why_not,
)
from gpusetup.versions import ComputeCapability

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def _distro_family(ctx: Context) -> str:
    """apt, dnf or conda: which package manager the exact fix names."""
    if ctx.facts.torch.conda_env:
        return "conda"
    distro = ctx.facts.host.distro.lower()
    if any(
        word in distro
        for word in ("red hat", "rhel", "fedora", "centos", "rocky", "alma", "amazon")
    ):
        return "dnf"
    return "apt"


# (apt, dnf, conda) commands per need; conda-forge's compilers set CC/CXX when the env activates.
_PACKAGES = {
    "compiler": (
        "sudo apt install build-essential",
        "sudo dnf install gcc gcc-c++",
        "conda install -c conda-forge gcc gxx",
    ),
    "python-headers": (
        "sudo apt install python{v}-dev",
        "sudo dnf install python{v}-devel",
        "conda install python={v}   (reinstalls the interpreter with its headers)",
    ),
}


def _install(ctx: Context, need: str, **fmt: str) -> str:
    apt, dnf, conda = (command.format(**fmt) for command in _PACKAGES[need])
    first = {"apt": apt, "dnf": dnf, "conda": conda}[_distro_family(ctx)]
    others = [c for c in (apt, dnf, conda) if c != first]
    return f"{first}   (elsewhere: {' | '.join(others)})"


def _compile(ctx: Context) -> Optional[CompileFacts]:
    facts = ctx.facts.torch.compile
    return facts if ctx.torch_ok and facts is not None else None


def _linux_cuda(ctx: Context) -> bool:
    """A Linux CUDA build of torch: the one Triton (and its launcher's C compiler) is used with."""
    return bool(ctx.facts.torch.cuda_build) and ctx.os_name == "linux"


def _compiler_evidence(c: CompilerFacts) -> dict[str, object]:
    return {"name": c.name, "via": c.via, "path": c.path, "runs": c.runs, "error": c.error}


@check(
    inductor_no_compiler="torch.compile has no working C/C++ compiler (Inductor's CXX, Triton's CC)"
)
def compilers(ctx: Context) -> Iterator[Finding]:
    facts = _compile(ctx)
    if facts is None:
        return
    broken: List[Tuple[str, CompilerFacts]] = []
    if facts.inductor_cxx.runs is not True:
        broken.append(("Inductor's C++ compiler (CPU)", facts.inductor_cxx))
    if _linux_cuda(ctx) and facts.triton_cc.runs is not True:
        broken.append(("Triton's C compiler (GPU launcher)", facts.triton_cc))
    if not broken:
        return
    what, first = broken[0]
    named = f"{first.via}={first.name}" if first.via in ("CC", "CXX") else first.name
    reason = f"{named} does not run ({first.error})" if first.name else "none found"
    fix = _install(ctx, "compiler")
    if first.via in ("CC", "CXX"):
        fix = f"Point {first.via} at a compiler that runs (or unset it), or install one: {fix}"
    yield Finding(
        "inductor-no-compiler",
        ERROR,
        f"torch.compile cannot build kernels: {what}: {reason}"[:200],
        fix,
        {label: _compiler_evidence(c) for label, c in broken},
    )


@check(triton_missing="a Linux CUDA build of torch whose Triton cannot be imported")
def triton_missing(ctx: Context) -> Iterator[Finding]:
    facts = _compile(ctx)
    if facts is None or not _linux_cuda(ctx) or facts.triton_importable is not False:
        return
    wanted = _required_triton(ctx, facts)
    spec = str(wanted) if wanted else "triton"
    yield Finding(
        "triton-missing",
        ERROR if ctx.has_nvidia_gpu else WARNING,
        "torch.compile on the GPU needs Triton, which does not import: "
        + (facts.triton_error.splitlines()[0][:140] if facts.triton_error else "not installed"),
        f"{shlex.quote(ctx.facts.torch.python or 'python')} -m pip install {shlex.quote(spec)}   (the version torch "
        f"{ctx.facts.torch.version} requires; or reinstall the family: gpusetup install --cuda auto)",
        {"triton_error": facts.triton_error, "torch_requires": facts.triton_requires},
    )


def _required_triton(ctx: Context, facts: CompileFacts) -> Optional[Requirement]:
    """torch's own Requires-Dist on triton/pytorch-triton whose marker holds for the target."""
    env = {
        "platform_system": ctx.facts.host.os or "Linux",
        "sys_platform": (ctx.facts.host.os or "linux").lower(),
        "platform_machine": ctx.facts.host.machine or "x86_64",
        "python_version": ".".join(ctx.facts.torch.python_version.split(".")[:2]) or "3",
        "python_full_version": ctx.facts.torch.python_version or "3",
        "extra": "",
    }
    for text in facts.triton_requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate(env):
            return req
    return None


@check(triton_version_mismatch="the installed Triton is not the version torch's metadata requires")
def triton_version(ctx: Context) -> Iterator[Finding]:
    facts = _compile(ctx)
    wanted = _required_triton(ctx, facts) if facts is not None else None
    if facts is None or wanted is None:
        return
    installed = {d.name: d.version for d in ctx.facts.torch.distributions if "triton" in d.name}
    have = installed.get(wanted.name)
    problem = ""
    if have is None and installed:
        problem = " ".join(f"{n} {v}" for n, v in installed.items()) + " installed instead"
        problem = " ".join(problem.split())  # a version is one line of text in a title
    elif have is not None and not _satisfies(wanted, have):
        problem = f"{wanted.name} {' '.join(have.split())} installed"
    elif have is not None and len(installed) > 1:
        problem = "both triton and pytorch-triton are installed (they ship the same package)"
    if not problem:
        return
    python = shlex.quote(ctx.facts.torch.python or "python")
    other = [shlex.quote(n) for n in installed if n != wanted.name]
    remove = f"{python} -m pip uninstall -y {' '.join(other)} && " if other else ""
    yield Finding(
        "triton-version-mismatch",
        ERROR,
        f"torch {ctx.facts.torch.version} requires {wanted.name}{wanted.specifier}, but {problem}",
        f"{remove}{python} -m pip install {shlex.quote(wanted.name + str(wanted.specifier))}",
        {"required": str(wanted), "installed": installed, "imported": facts.triton_version},
    )


def _satisfies(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except (InvalidVersion, ValueError):  # ValueError: a version part of 4300+ digits
        return False


@check(
    triton_no_python_headers="Python.h of the target interpreter is missing (Triton builds against it)"
)
def python_headers(ctx: Context) -> Iterator[Finding]:
    facts = _compile(ctx)
    if facts is None or not _linux_cuda(ctx) or facts.python_h is not False:
        return
    version = ".".join(ctx.facts.torch.python_version.split(".")[:2]) or "3"
    fix = _install(ctx, "python-headers", v=version)
    if not facts.python_include.startswith("/usr/"):
        fix = (
            f"Python.h belongs in {facts.python_include}: reinstall this interpreter with its headers "
            f"(pyenv install --force {ctx.facts.torch.python_version}; uv python install --reinstall), "
            f"or for a system Python: {fix}"
        )
    yield Finding(
        "triton-no-python-headers",
        ERROR if ctx.has_nvidia_gpu else WARNING,
        f"Triton cannot build its launcher: no Python.h in {facts.python_include}",
        fix,
        {"python_include": facts.python_include, "python": ctx.facts.torch.python},
    )


@check(
    triton_libcuda_not_found="Triton's own lookup finds no libcuda.so to link its launcher against"
)
def libcuda(ctx: Context) -> Iterator[Finding]:
    facts = _compile(ctx)
    if facts is None or not _linux_cuda(ctx) or not ctx.has_nvidia_gpu:
        return
    if facts.triton_importable is None:
        return
    evidence = {
        "via": facts.libcuda_via,
        "dirs": facts.libcuda_dirs,
        "unversioned": facts.libcuda_unversioned,
        "error": facts.libcuda_error,
    }
    if not facts.libcuda_via:
        yield Finding(
            "triton-libcuda-not-found",
            ERROR,
            "Triton finds no libcuda.so.1 (TRITON_LIBCUDA_PATH, ldconfig -p, LD_LIBRARY_PATH): "
            "'libcuda.so cannot found!'",
            "Make sure the driver works (nvidia-smi), then refresh the linker cache: sudo ldconfig   "
            "(in a container: run it with --gpus all / the NVIDIA container runtime)",
            evidence,
        )
    elif not facts.libcuda_unversioned:
        where = facts.libcuda_dirs[0]
        yield Finding(
            "triton-libcuda-not-found",
            ERROR,
            f"Only libcuda.so.1 in {where}: Triton's launcher link fails with 'cannot find -lcuda'",
            f"sudo ln -s {where}/libcuda.so.1 {where}/libcuda.so && sudo ldconfig   (without root: "
            f"mkdir -p ~/.local/libcuda && ln -s {where}/libcuda.so.1 ~/.local/libcuda/libcuda.so && "
            "export TRITON_LIBCUDA_PATH=~/.local/libcuda)",
            evidence,
        )


@check(
    compile_cache_not_writable="Inductor's or Triton's cache directory cannot be written or is noexec"
)
def caches(ctx: Context) -> Iterator[Finding]:
    facts = _compile(ctx)
    if facts is None:
        return
    for cache in facts.caches:
        if cache.kind == "triton" and not _linux_cuda(ctx):
            continue
        if cache.writable is not False and not cache.noexec:
            continue
        variable = "TORCHINDUCTOR_CACHE_DIR" if cache.kind == "inductor" else "TRITON_CACHE_DIR"
        why = f"on a noexec mount ({cache.mount_point})" if cache.noexec else "not writable"
        yield Finding(
            "compile-cache-not-writable",
            ERROR,
            f"{cache.kind.capitalize()}'s compile cache {cache.path} is {why}",
            f"export {variable}=$HOME/.cache/{'torchinductor' if cache.kind == 'inductor' else 'triton'}"
            f"   (a writable directory on a mount without noexec"
            + ("" if cache.noexec else f"; or: sudo chown -R $USER {cache.path}")
            + ")",
            {
                "path": cache.path,
                "via": cache.via,
                "error": cache.error,
                "mount": cache.mount_point,
            },
        )


def _gpu_capabilities(ctx: Context) -> List[Tuple[str, ComputeCapability]]:
    """(label, capability) per GPU, from NVML, else from torch's own device list."""
    found = [(f"GPU {g.index} {g.name}", cap) for g, cap in ctx.capabilities()]
    if not found:
        for device in ctx.facts.torch.devices:
            if device.capability:
                cap = ComputeCapability.parse(device.capability)
                found.append((f"cuda:{device.index} {device.name}", cap))
    return found


@check(bf16_unsupported="a GPU below sm_80 only emulates bf16 (fine-tuning recipes default to it)")
def bf16(ctx: Context) -> Iterator[Finding]:
    if not ctx.torch_ok or not ctx.facts.torch.cuda_build:
        return
    old = [(label, cap) for label, cap in _gpu_capabilities(ctx) if cap < ComputeCapability(8, 0)]
    if old:
        yield Finding(
            "bf16-unsupported",
            WARNING,
            f"{old[0][0]} (sm_{old[0][1].code}) has no bf16 tensor cores: bf16 training runs emulated, slowly",
            "Train in fp16 with a GradScaler: torch.autocast('cuda', dtype=torch.float16) + "
            "torch.amp.GradScaler('cuda')   (Hugging Face: --fp16 instead of --bf16)",
            {"gpus": [f"{label}: sm_{cap.code}" for label, cap in old]},
        )


_DOCTOR_NAMES = {SdpaBackend.MEM_EFFICIENT: "memory-efficient"}


@check(
    flash_attention_unavailable="info: which SDPA kernels this GPU and build can use instead of flash"
)
def flash(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.cuda_build or torch.hip_build:
        return
    era = era_for(torch.version)  # torch's own sdp_utils.cpp rules for this release (rules/sdpa.py)
    built = torch.compile.flash_attention_built if torch.compile else None
    for label, cap in _gpu_capabilities(ctx):
        if torch.arch_list and not build_supports_device(torch.arch_list, cap):
            continue  # arch-not-in-build: no kernel at all, attention included
        dtype = SdpaDtype.BF16 if cap.major >= 8 else SdpaDtype.FP16  # what fine-tuning uses here
        reasons = []
        if built is False:
            reasons.append(f"torch {torch.version} was built without flash attention")
        why = why_not(SdpaBackend.FLASH, era, cap, dtype)
        if why:
            reasons.append(why)
        if not reasons:
            continue
        usable = [_DOCTOR_NAMES.get(b, b.value) for b in usable_backends(era, cap, dtype, False)]
        yield Finding(
            "flash-attention-unavailable",
            INFO,
            f"{label}: no flash attention ({'; '.join(reasons)}); SDPA runs {usable[0]} instead",
            "Nothing to fix for correctness; for speed and memory use a GPU flash supports in torch "
            f"{torch.version} ({flash_range_text(era)}, fp16/bf16 inputs), or train with shorter sequences",
            {
                "capability": str(cap),
                "backends": [*usable, "flash: no"],
                "torch": torch.version,
                "rule": f"sdp_utils.cpp rules of torch >= {era.since}",
            },
        )
        return
