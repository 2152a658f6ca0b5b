"""Which installer runs (auto: conda, uv or pip), the program that is it, and its network settings."""

from __future__ import annotations

import os

from gpusetup.facts.installer_config import (
    Kept,
    NetSettings,
    conda_settings,
    pip_settings,
    uv_settings,
)
from gpusetup.facts.pyenv import PythonEnv
from gpusetup.install.installers import InstallerKind, kept_variables
from gpusetup.install.resolve import Plan
from gpusetup.plumbing import process


def choose_installer(choice: str, env: PythonEnv, plan: Plan) -> InstallerKind:
    """auto: conda in a conda env when the release is on the pytorch channel (2.0 to 2.5.1);
    otherwise uv where present, else pip (PyTorch's own advice for conda envs from 2.6 on)."""
    if choice != "auto":
        return InstallerKind(choice)
    on_pytorch_channel = plan.conda is not None and plan.conda[0] != "-c"
    if env.conda and on_pytorch_channel:
        return InstallerKind.CONDA
    return InstallerKind.UV if process.which("uv") else InstallerKind.PIP


def installer_tool(chosen: InstallerKind) -> str:
    """The program to run; empty for pip, which runs as python -m pip in the target interpreter."""
    if chosen is InstallerKind.UV:
        return process.which("uv") or "uv"
    if chosen is InstallerKind.CONDA:
        return process.which("mamba") or process.which("conda") or "conda"
    return ""


def network_settings(chosen: InstallerKind, env: PythonEnv, tool: str) -> NetSettings:
    """The installer's own network settings (its config files and variables), plus proxy/CA variables."""
    if chosen is InstallerKind.UV:
        found = uv_settings(os.environ, os.getcwd())
    elif chosen is InstallerKind.CONDA:
        root = os.path.dirname(os.path.dirname(os.path.realpath(tool))) if os.sep in tool else ""
        found = conda_settings(os.environ, root, env.prefix)
    else:
        found = pip_settings(os.environ, env.prefix)
    variables = tuple(Kept(k, v, "environment") for k, v in kept_variables(os.environ))
    return NetSettings(found.kept + variables, found.ignored)
