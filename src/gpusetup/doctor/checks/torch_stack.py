"""Checks of the target interpreter's torch stack against the driver and the GPUs."""

from __future__ import annotations

import os
import re
import shlex
from typing import Iterator, List

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import Distribution, TorchFacts
from gpusetup.facts.status import NumpyStatus, ProbeStatus
from gpusetup.rules.pytorch import build_supports_device, rules_for, visible_nvml_indices

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_REINSTALL = "gpusetup install --cuda auto"


def _is_tool_env(python: str) -> bool:
    """An interpreter of pipx's or uv's tool environments (gpusetup's own, not the user's project)."""
    return any(part in python for part in ("/pipx/venvs/", "/uv/tools/", "/.local/share/pipx/"))


def _python(ctx: Context) -> str:
    """The target interpreter, shell-quoted: it goes into copy-paste commands."""
    return shlex.quote(ctx.facts.torch.python or "python")


@check(
    probe_failed="the torch probe crashed, hung or printed garbage",
    torch_missing="torch is not installed in the target interpreter",
    torch_import_failed="import torch raises",
)
def torch_presence(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    evidence = {"python": torch.python, "error": torch.error}
    if torch.status in (ProbeStatus.TIMEOUT, ProbeStatus.CRASHED, ProbeStatus.BAD_OUTPUT):
        yield Finding(
            "probe-failed",
            ERROR,
            f"The torch probe {'hung' if torch.status == ProbeStatus.TIMEOUT else 'failed'} in {_python(ctx)}",
            f"Run it by hand to see the full error: {_python(ctx)} -c 'import torch; "
            "print(torch.cuda.is_available())'   (a hang in CUDA init often means a wedged driver: reboot)",
            {**evidence, "status": torch.status},
        )
    elif torch.status == ProbeStatus.MISSING:
        fix = f"{_REINSTALL} --python {_python(ctx)}   (or, without a GPU: gpusetup install --cuda cpu)"
        if _is_tool_env(ctx.facts.torch.python):
            fix = (
                "gpusetup runs in its own pipx/uv-tool environment: probe your project's interpreter "
                "instead: gpusetup doctor --python /path/to/venv/bin/python"
            )
        yield Finding(
            "torch-missing",
            ERROR if ctx.has_nvidia_gpu else WARNING,
            f"torch is not installed in {_python(ctx)}",
            fix,
            evidence,
        )
    elif torch.status == ProbeStatus.IMPORT_ERROR:
        yield Finding(
            "torch-import-failed",
            ERROR,
            "import torch fails: " + torch.error.splitlines()[0][:160]
            if torch.error
            else "import torch fails",
            f"Reinstall the family together: {_REINSTALL} --python {_python(ctx)}; if the error names a "
            "libcu*/libnvJitLink symbol, see ld-library-path-shadowing",
            evidence,
        )


@check(torch_cpu_build="a CPU-only torch on a machine with an NVIDIA GPU")
def cpu_build(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if ctx.torch_ok and not torch.cuda_build and not torch.hip_build and ctx.has_nvidia_gpu:
        yield Finding(
            "torch-cpu-build",
            ERROR,
            f"torch {torch.version} is a CPU-only build, but this machine has an NVIDIA GPU",
            f"Replace it with a CUDA build: {_REINSTALL} --python {_python(ctx)}",
            {"torch": torch.version, "torch.version.cuda": None},
        )


@check(
    driver_too_old_for_torch="the torch build's CUDA needs a newer driver than the one installed"
)
def driver_vs_build(ctx: Context) -> Iterator[Finding]:
    build, driver, driver_cuda = ctx.torch_cuda, ctx.driver_version, ctx.driver_cuda
    if build is None or (driver is None and driver_cuda is None):
        return
    toolkit = ctx.profiles.toolkit(build)
    floor = toolkit.minor_compat.for_os(ctx.os_name) if toolkit else None
    evidence = {
        "torch": ctx.facts.torch.version,
        "torch.version.cuda": str(build),
        "driver": str(driver) if driver else None,
        "driver_cuda": str(driver_cuda) if driver_cuda else None,
    }
    hard = (driver is not None and floor is not None and driver < floor) or (
        driver_cuda is not None
        and (driver_cuda.major < build.major or (build.major < 11 and driver_cuda < build))
    )  # minor-version compatibility starts with CUDA 11: a 10.x build needs its own driver
    if hard:
        yield Finding(
            "driver-too-old-for-torch",
            ERROR,
            f"torch built for CUDA {build} needs driver >= {floor or 'newer'}; this one is {driver or '?'}"
            f" (CUDA {driver_cuda or '?'})",
            f"Upgrade the NVIDIA driver, or install a torch build for the CUDA this driver supports: "
            f"gpusetup install --cuda auto --python {_python(ctx)}",
            {
                **evidence,
                "minimum_driver": str(floor) if floor else None,
                "source": toolkit.source if toolkit else None,
            },
        )
    elif driver_cuda is not None and driver_cuda < build:
        full = toolkit.driver.for_os(ctx.os_name) if toolkit and toolkit.version == build else None
        yield Finding(
            "driver-too-old-for-torch",
            WARNING,
            f"The driver supports CUDA {driver_cuda}, older than torch's CUDA {build}: it runs under "
            "minor-version compatibility (PTX JIT and torch.compile/Triton kernels may fail)",
            f"Upgrade the driver to >= {full or 'the CUDA ' + str(build) + ' driver'}, or use a build "
            f"for CUDA <= {driver_cuda}: gpusetup install --cuda auto --python {_python(ctx)}",
            evidence,
        )


@check(
    arch_not_in_build="a GPU's compute capability has no kernels (and no PTX) in the torch build"
)
def arch(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.cuda_build or not torch.arch_list:
        return
    rules = rules_for(torch.version, ctx.torch_cuda)
    for gpu, cap in ctx.capabilities():
        if not build_supports_device(torch.arch_list, cap, rules):
            yield Finding(
                "arch-not-in-build",
                ERROR,
                f"GPU {gpu.index} {gpu.name} (sm_{cap.code}) is not supported by torch {torch.version}: "
                "'no kernel image is available for execution on the device'",
                f"Install a build that carries sm_{cap.code}: {_REINSTALL} --python {_python(ctx)}   "
                "(Blackwell needs cu128+; Maxwell/Pascal need cu126 or older)",
                {"gpu": gpu.index, "capability": str(cap), "arch_list": torch.arch_list},
            )


@check(cuda_init_failed="torch has CUDA but cannot initialise it")
def cuda_init(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.cuda_build or not ctx.has_nvidia_gpu:
        return
    if torch.cuda_available and not torch.init_error:
        return
    message = torch.init_error or next((w for w in torch.init_warnings if "CUDA" in w), "")
    fix = "Fix the findings above first; if none apply: nvidia-smi must work, then check CUDA_VISIBLE_DEVICES"
    if "unknown error" in message.lower():
        fix = (
            "After suspend/resume the UVM module is often wedged: sudo rmmod nvidia_uvm && "
            "sudo modprobe nvidia_uvm (or reboot)"
        )
    elif "802" in message or "not yet initialized" in message:
        fix = (
            "The NVSwitch fabric manager is not running: it must be installed at exactly the driver's "
            "version (see fabric-manager-version-mismatch), then: sudo systemctl enable --now "
            "nvidia-fabricmanager; its refusal is in: journalctl -u nvidia-fabricmanager"
        )
    elif "804" in message or "forward compatibility" in message:
        fix = "A forward-compatibility libcuda on a GPU that does not support it: see cuda-compat-libs"
    yield Finding(
        "cuda-init-failed",
        ERROR,
        "torch.cuda.is_available() is False: "
        + (message.splitlines()[0][:160] if message else "CUDA did not initialise"),
        fix,
        {
            "init_error": torch.init_error,
            "warnings": torch.init_warnings[:3],
            "device_count": torch.device_count,
        },
    )


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
            f"LD_LIBRARY_PATH: {_REINSTALL}",
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
    on_path = [
        d.path
        for d in toolkit.ld_library_path
        if any(n.startswith("libcudnn") for n in d.libraries)
    ]
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


def _installs(copies: List[Distribution], torch: TorchFacts) -> List[Distribution]:
    """One entry per installation: conda's pytorch package ships torch's own metadata in the env.

    conda-forge builds it with `pip install . --no-deps` into the prefix (pytorch-cpu-feedstock
    recipe/build_pytorch.sh), so the package holds torch-<v>.dist-info; the pytorch channel's
    packages hold torch-<v>-pyX.Y.egg-info. Both are seen beside conda-meta/pytorch-<v>-*.json.
    """
    conda = {d.version for d in copies if d.name == "pytorch" and d.installer == "conda"}
    prefix = os.path.realpath(torch.sys_prefix) if torch.sys_prefix else ""
    return [
        d
        for d in copies
        if not (
            d.name == "torch"
            and d.version.split("+")[0] in conda
            and (not d.location or not prefix or os.path.realpath(d.location).startswith(prefix))
        )
    ]


@check(multiple_torch_installs="more than one torch is installed where the interpreter can see it")
def multiple(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    copies = _installs([d for d in torch.distributions if d.name in ("torch", "pytorch")], torch)
    outside = bool(
        torch.location
        and torch.sys_prefix
        and not os.path.realpath(torch.location).startswith(os.path.realpath(torch.sys_prefix))
    )
    if len(copies) > 1 or (outside and ctx.torch_ok):
        yield Finding(
            "multiple-torch-installs",
            WARNING,
            f"{len(copies)} torch installations are visible; the one imported is {torch.location or 'not known'}",
            "Keep one: remove the others (user site: python -m pip uninstall torch with PYTHONNOUSERSITE "
            "unset; conda: conda remove pytorch) and use one package manager per environment",
            {
                "installs": [
                    f"{d.name} {d.version} ({d.installer or '?'}) in {d.location}" for d in copies
                ],
                "imported": torch.location,
            },
        )


@check(cuda_visible_devices="CUDA_VISIBLE_DEVICES hides all or some GPUs")
def visible_devices(ctx: Context) -> Iterator[Finding]:
    value = ctx.facts.host.env.get("CUDA_VISIBLE_DEVICES")
    if value is None or not ctx.gpus:
        return
    result = visible_nvml_indices(value, [g.uuid for g in ctx.gpus])
    evidence = {
        "CUDA_VISIBLE_DEVICES": value,
        "visible_nvml_indices": result.visible,
        "gpus": len(ctx.gpus),
    }
    if not result.visible:
        yield Finding(
            "cuda-visible-devices",
            ERROR,
            f"CUDA_VISIBLE_DEVICES={value!r} hides every GPU: 'No CUDA GPUs are available'"
            + (f" ({result.problem})" if result.problem else ""),
            "unset CUDA_VISIBLE_DEVICES in the shell, or, where the script sets it "
            "(os.environ['CUDA_VISIBLE_DEVICES'] = ...), change that line to valid GPUs (by UUID from "
            "nvidia-smi -L for stability) before torch initialises CUDA",
            evidence,
        )
    elif result.problem:
        yield Finding(
            "cuda-visible-devices",
            WARNING,
            f"CUDA_VISIBLE_DEVICES={value!r} is cut short: {result.problem}",
            "Fix the list: only GPUs listed before the bad entry are visible (nvidia-smi -L shows the ids)",
            evidence,
        )
    elif len(result.visible) < len(ctx.gpus):
        yield Finding(
            "cuda-visible-devices",
            INFO,
            f"CUDA_VISIBLE_DEVICES={value!r} shows {len(result.visible)} of {len(ctx.gpus)} GPUs",
            "Intended? unset CUDA_VISIBLE_DEVICES to use them all",
            evidence,
        )


@check(device_order_differs="nvidia-smi and torch number mixed GPUs differently")
def device_order(ctx: Context) -> Iterator[Finding]:
    names = {g.name for g in ctx.gpus}
    if len(names) > 1 and ctx.facts.host.env.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        yield Finding(
            "device-order-differs",
            INFO,
            "Mixed GPU models: CUDA numbers them fastest-first, nvidia-smi by PCI bus",
            "export CUDA_DEVICE_ORDER=PCI_BUS_ID   (so index N is the same GPU everywhere)",
            {"models": sorted(names)},
        )


def _is_wheel_dir(path: str) -> bool:
    return "site-packages" in path or "dist-packages" in path


@check(
    ld_library_path_shadowing="LD_LIBRARY_PATH puts system CUDA libraries ahead of torch's own",
    cuda_compat_libs="a forward-compatibility libcuda is on the library path (CUDA error 804)",
)
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
    if foreign:
        yield Finding(
            "ld-library-path-shadowing",
            ERROR,
            "torch loaded CUDA libraries from LD_LIBRARY_PATH instead of its own wheels: "
            + ", ".join(sorted({lib.name for lib in foreign})),
            "Remove these directories from LD_LIBRARY_PATH for this environment: "
            + ":".join(sorted({os.path.dirname(lib.path) for lib in foreign})),
            {"loaded": [lib.path for lib in foreign]},
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


@check(cuda_device_missing="NVML shows a GPU that CUDA should see, but torch does not")
def device_missing(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.cuda_available or not ctx.gpus or not torch.devices:
        return
    if any(g.mig_enabled for g in ctx.gpus):
        return  # MIG instances are counted differently (mig-enabled explains it)
    visible = visible_nvml_indices(
        ctx.facts.host.env.get("CUDA_VISIBLE_DEVICES"), [g.uuid for g in ctx.gpus]
    )
    seen = torch.cuda_index_by_bus()
    if not seen:
        return
    missing = [
        g for g in ctx.gpus if g.index in visible.visible and g.pci_bus_id.upper() not in seen
    ]
    if missing:
        yield Finding(
            "cuda-device-missing",
            ERROR,
            f"torch sees {len(torch.devices)} GPU(s) but NVML shows {len(visible.visible)} it should see: "
            + ", ".join(f"GPU {g.index} {g.name} ({g.pci_bus_id})" for g in missing),
            "Check the missing GPU: nvidia-smi -q -i <index>, sudo dmesg | grep -i xid; a GPU that fails "
            "CUDA init needs a reset (sudo nvidia-smi -r -i <index>) or a reboot",
            {"missing": [g.pci_bus_id for g in missing], "torch_devices": list(seen)},
        )


@check(
    numpy_missing="numpy is not installed beside torch",
    numpy_incompatible="torch cannot use the installed numpy (NumPy 2 beside a torch built for 1.x)",
)
def numpy_bridge(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or torch.numpy_status in (None, NumpyStatus.OK):
        return
    rule = ctx.profiles.numpy
    needs_numpy1 = bool(rule and torch.version and rule.torch_needs_numpy1(torch.version))
    pip = f"{_python(ctx)} -m pip install"
    evidence = {
        "torch": torch.version,
        "numpy": torch.numpy_version,
        "error": torch.numpy_error,
        "source": rule.source if rule and needs_numpy1 else None,
    }
    if torch.numpy_status == NumpyStatus.MISSING:
        needed = torch.numpy_required_by
        yield Finding(
            "numpy-missing",
            WARNING if needed else INFO,
            "numpy is not installed: "
            + (f"{', '.join(needed)} need(s) it" if needed else "torch warns on import")
            + ", and .numpy() and torch.from_numpy fail",
            f'{pip} "numpy<2"' if needs_numpy1 else f"{pip} numpy",
            evidence,
        )
        return
    numpy2 = (torch.numpy_version or "").split(".")[0] not in ("", "0", "1")
    if needs_numpy1 and numpy2 and rule is not None:
        title = (
            f"torch {torch.version} was built for NumPy 1.x and cannot use numpy "
            f"{torch.numpy_version} (torch {rule.numpy2_from} is the first that can)"
        )
        fix = (
            f'{pip} "numpy<2"   (or move to torch >= {rule.numpy2_from}: '
            f"{_REINSTALL} --python {_python(ctx)})"
        )
    else:
        why = torch.numpy_error.splitlines()[0][:120] if torch.numpy_error else "import fails"
        title = f"torch cannot use numpy {torch.numpy_version or '(version unknown)'}: {why}"
        fix = f"{pip} --force-reinstall numpy   (numpy's own install is broken)"
    yield Finding("numpy-incompatible", ERROR, title, fix, evidence)
