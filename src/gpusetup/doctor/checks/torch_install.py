"""torch in the target interpreter: installed, importable, installed once, and with a numpy it can use."""

from __future__ import annotations

import os
import re
from typing import Iterator, List

from gpusetup.doctor.checks.fix_commands import REINSTALL, quoted_python
from gpusetup.doctor.checks.libraries import symbol_failure
from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.facts.model import Distribution, TorchFacts
from gpusetup.facts.status import NumpyStatus, ProbeStatus

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


def _is_tool_env(python: str) -> bool:
    """An interpreter of pipx's or uv's tool environments (gpusetup's own, not the user's project)."""
    return any(part in python for part in ("/pipx/venvs/", "/uv/tools/", "/.local/share/pipx/"))


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
            f"The torch probe {'hung' if torch.status == ProbeStatus.TIMEOUT else 'failed'} in {quoted_python(ctx)}",
            f"Run it by hand to see the full error: {quoted_python(ctx)} -c 'import torch; "
            "print(torch.cuda.is_available())'   (a hang in CUDA init often means a wedged driver: reboot)",
            {**evidence, "status": torch.status},
        )
    elif torch.status == ProbeStatus.MISSING:
        fix = f"{REINSTALL} --python {quoted_python(ctx)}   (or, without a GPU: gpusetup install --cuda cpu)"
        if _is_tool_env(ctx.facts.torch.python):
            fix = (
                "gpusetup runs in its own pipx/uv-tool environment: probe your project's interpreter "
                "instead: gpusetup doctor --python /path/to/venv/bin/python"
            )
        yield Finding(
            "torch-missing",
            ERROR if ctx.has_nvidia_gpu else WARNING,
            f"torch is not installed in {quoted_python(ctx)}",
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
            _import_fix(ctx),
            evidence,
        )


def _import_fix(ctx: Context) -> str:
    """A CUDA library missing a symbol is one library found ahead of its partner: say where to look."""
    reinstall = f"{REINSTALL} --python {quoted_python(ctx)}"
    symbol = symbol_failure(ctx.facts.torch.error)
    if symbol is None or not re.match(r"lib(?:cu|nv)\w*\.so", os.path.basename(symbol[0])):
        return f"Reinstall the family together: {reinstall}"
    return (
        "A CUDA library of torch's found an older partner library first (pytorch/pytorch#111469): run "
        "echo $LD_LIBRARY_PATH and drop CUDA toolkit directories from it (ld-library-path-shadowing); "
        f"if it holds none, reinstall the family so the nvidia-* wheels agree: {reinstall}"
    )


def _installs(copies: List[Distribution], torch: TorchFacts) -> List[Distribution]:
    """One entry per installation: conda's pytorch package ships torch's own metadata in the env.

    conda-forge builds it with `pip install . --no-deps` into the prefix (pytorch-cpu-feedstock
    recipe/build_pytorch.sh), so the package holds torch-<v>.dist-info; the pytorch channel's
    packages hold torch-<v>-pyX.Y.egg-info (built with `python setup.py install`, pytorch/builder
    conda/pytorch-nightly/build.sh; astral-sh/uv#2928 lists the one torch-2.2.2-py3.10.egg-info of
    the pytorch/pytorch:2.2.2 image). tests/test_conda_layout.py runs the probe on both layouts.
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
    pip = f"{quoted_python(ctx)} -m pip install"
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
            f"{REINSTALL} --python {quoted_python(ctx)})"
        )
    else:
        why = torch.numpy_error.splitlines()[0][:120] if torch.numpy_error else "import fails"
        title = f"torch cannot use numpy {torch.numpy_version or '(version unknown)'}: {why}"
        fix = f"{pip} --force-reinstall numpy   (numpy's own install is broken)"
    yield Finding("numpy-incompatible", ERROR, title, fix, evidence)
