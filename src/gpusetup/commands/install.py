"""gpusetup install: resolve the right torch build for this (or another) machine and install it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import typer

from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.output_path import check_writable
from gpusetup.errors import CommandFailed, UsageError
from gpusetup.facts.installer_config import (
    Kept,
    NetSettings,
    conda_settings,
    pip_settings,
    uv_settings,
)
from gpusetup.facts.nvml import collect_nvml
from gpusetup.facts.probe import probe_torch
from gpusetup.facts.pyenv import PythonEnv, describe_python
from gpusetup.facts.target import PYTHON_HELP, checked_target
from gpusetup.facts.target import Target as PythonTarget
from gpusetup.install import plan as decide
from gpusetup.install.installers import (
    STRATEGIES,
    Installer,
    InstallerKind,
    Target,
    kept_variables,
    redact,
)
from gpusetup.install.missing_companions import PACKAGES_HELP
from gpusetup.install.resolve import FAMILY, Plan, Request, resolve
from gpusetup.plumbing import process
from gpusetup.profiles.load import load_profiles
from gpusetup.profiles.model import Profiles
from gpusetup.render.console import make_console, print_line

INSTALLERS = ("auto", "pip", "uv", "conda")


@cli_edge
def install(
    torch: Optional[str] = typer.Option(
        None,
        "--torch",
        help="Version or range: 2.4.1, 2.1, 2.1.*, '>=2.3' [default: newest that fits].",
    ),
    cuda: str = typer.Option(
        "auto",
        "--cuda",
        help="auto, cpu, a build (12.6 or cu126), rocm6.1, or the driver's CUDA as nvidia-smi "
        "prints it (12.2: the newest build that driver runs).",
    ),
    packages: Optional[str] = typer.Option(
        None,
        "--packages",
        help=PACKAGES_HELP,
    ),
    python: Optional[str] = typer.Option(None, "--python", help=PYTHON_HELP),
    installer: str = typer.Option("auto", "--installer", help="auto, pip, uv or conda."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Show the plan and command; change and write nothing (refused with --constraints).",
    ),
    print_only: bool = typer.Option(
        False,
        "--print",
        help="Print only the shell command (for eval or a Dockerfile; not with --json).",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the plan as JSON (gpusetup.install/1)."
    ),
    fmt: Optional[str] = typer.Option(
        None,
        "--format",
        help="command, requirements, uv (pyproject snippet) or conda (environment.yml); not with --json.",
    ),
    explain: bool = typer.Option(
        False, "--explain", help="List every candidate variant and why it was taken or rejected."
    ),
    driver: Optional[str] = typer.Option(
        None, "--driver", help="Plan for this driver version instead of the detected one."
    ),
    arch: List[str] = typer.Option(
        [], "--arch", help="Plan for this GPU arch (sm_90; repeatable)."
    ),
    python_version: Optional[str] = typer.Option(
        None, "--python-version", help="Plan for this Python (3.10)."
    ),
    platform: Optional[str] = typer.Option(
        None, "--platform", help="Plan for linux_x86_64, linux_aarch64, win_amd64, macos_arm64."
    ),
    constraints: Optional[str] = typer.Option(
        None,
        "--constraints",
        help="After a verified install, write a pip constraints file pinning the family to what the target holds.",
    ),
    profile: Optional[str] = typer.Option(
        None, "--profile", help="Use a named stack from a profile directory."
    ),
    profiles_dir: List[str] = typer.Option(
        [], "--profiles", help="Extra profile directory (repeatable)."
    ),
) -> None:
    """Resolve the matching PyTorch build (torch + torchvision, + torchaudio where the release has one) and install it, safely."""
    _check_options(installer, fmt, constraints, dry_run, json_out, print_only, torch)
    profiles = load_profiles(profiles_dir)
    request = _request(torch, cuda, packages, installer, profile, profiles)
    chosen_python = checked_target(python)
    interpreter = chosen_python.path
    env = describe_python(interpreter)
    _check_stack_python(profile, profiles, env, python_version)
    nvml_driver, gpus = collect_nvml()
    machine = decide.plan_machine(
        env, nvml_driver, gpus, decide.Overrides(driver, arch, python_version, platform)
    )
    wanted = "pip" if installer == "auto" else installer
    plan = resolve(
        Request(request.torch, request.cuda, request.packages, wanted, request.index_url),
        machine,
        profiles,
    )
    chosen = InstallerKind(_installer(installer, env, plan))
    strategy, tool = STRATEGIES[chosen], _tool(chosen)
    target = Target(interpreter, env.prefix, env.conda)
    if print_only or (fmt or "command") != "command":
        text = (
            decide.shell_line(strategy.argv(tool, target, plan, NetSettings()))
            if (fmt or "command") == "command"
            else decide.render_format(plan, fmt or "command", machine.python)
        )
        print_line(text.rstrip())
        return
    settings = _network(chosen, env, tool)
    shown = Shown(
        plan,
        strategy.argv(tool, target, plan, settings),
        settings,
        json_out,
        explain,
        chosen_python,
    )
    pypi_default = profiles.releases[plan.torch].default_build(machine.platform)
    checked = Checked(interpreter, bool(gpus), pypi_default, chosen)
    if dry_run:
        _report(shown, "planned")
    elif decide.already_installed(plan, env.installed, pypi_default):
        _report(shown, "already-installed")
        if constraints is not None:
            _write_constraints(constraints, plan, _verify(plan, checked))
    else:
        changes = decide.changes(plan, env.installed) if env.installed else []
        _install(shown, strategy, checked, changes, constraints)


@dataclass(frozen=True)
class Checked:
    """How an install is checked afterwards: in which interpreter, and what it must hold."""

    python: str
    has_gpu: bool
    pypi_default: str  # the build PyPI's wheels without a local tag are
    installer: InstallerKind


def _install(
    shown: Shown,
    strategy: Installer,
    checked: Checked,
    changes: List[str],
    constraints: Optional[str],
) -> None:
    """Run the installer, then believe only what the target interpreter reports."""
    _report(shown, "installing", changes)
    from gpusetup.install.run import run_installer

    run_installer(strategy, shown.argv, shown.settings, to_stderr=shown.json_out)
    verified = _verify(shown.plan, checked)
    if constraints is not None:
        _write_constraints(constraints, shown.plan, verified)
    if shown.json_out:
        emit_json({**_json(shown, "installed"), "installed": verified})
    else:
        plan = shown.plan
        from rich.text import Text

        make_console().print(
            Text(f"✔ installed torch {plan.torch} ({plan.variant})", style="bold green")
        )


@dataclass(frozen=True)
class Shown:
    """What the plan report shows: the plan, the exact command and the settings kept and ignored."""

    plan: Plan
    argv: List[str]
    settings: NetSettings
    json_out: bool
    explain: bool
    python: Optional[PythonTarget] = None


def _check_options(
    installer: str,
    fmt: Optional[str],
    constraints: Optional[str],
    dry_run: bool,
    json_out: bool,
    print_only: bool,
    torch: Optional[str],
) -> None:
    """Every usage error before any work: nothing is probed, resolved or installed on bad options."""
    if installer not in INSTALLERS:
        raise UsageError(
            f"--installer {installer}: unknown installer", "one of " + ", ".join(INSTALLERS)
        )
    if fmt is not None and fmt not in decide.FORMATS:
        raise UsageError(f"--format {fmt}: unknown format", "one of " + ", ".join(decide.FORMATS))
    if torch is not None and not torch.strip():
        raise UsageError("--torch: empty version", "examples: 2.4.1, 2.1, '>=2.3'; or leave it out")
    printing = "--print" if print_only else ("--format" if fmt is not None else "")
    if json_out and printing:
        raise UsageError(
            f"--json cannot be combined with {printing}: {printing} prints the command or file itself",
            f"drop {printing} (the JSON plan holds the command), or drop --json",
        )
    if constraints is not None:
        check_writable(constraints, "--constraints")
        if dry_run or printing:
            raise UsageError(
                f"--constraints cannot be combined with {'--dry-run' if dry_run else printing}: "
                "it is written only from a verified install",
                "drop --dry-run to install and write it (nothing is written by a dry run)",
            )


def _check_stack_python(
    profile: Optional[str], profiles: Profiles, env: PythonEnv, planned: Optional[str]
) -> None:
    """A stack that pins a Python must be installed into that Python (or planned for it)."""
    pinned = profiles.stacks[profile].python if profile else ""
    if pinned and not planned and env.version != pinned:
        raise UsageError(
            f"--profile {profile} pins Python {pinned}, the target is {env.version}",
            "pass --python with a matching interpreter",
        )


def _request(
    torch: Optional[str],
    cuda: str,
    packages: Optional[str],
    installer: str,
    profile: Optional[str],
    profiles: Profiles,
) -> Request:
    names = (
        tuple(p.strip() for p in packages.split(",") if p.strip()) if packages is not None else None
    )
    for name in names or ():
        if name not in FAMILY:
            raise UsageError(
                f"--packages: unknown package {name!r}",
                "choose from torch, torchvision, torchaudio",
            )
    if profile is None:
        return Request(torch, cuda, names, installer)
    if profile not in profiles.stacks:
        known = (
            ", ".join(sorted(profiles.stacks)) or "none (add a profile directory with --profiles)"
        )
        raise UsageError(f"--profile {profile}: no such stack", f"stacks: {known}")
    stack = profiles.stacks[profile]
    return Request(
        torch or stack.torch,
        cuda if cuda != "auto" else stack.cuda,
        names or (tuple(stack.packages) or None),
        installer,
        stack.index_url or None,
    )


def _installer(choice: str, env: PythonEnv, plan: Plan) -> str:
    """auto: conda in a conda env when the release is on the pytorch channel (2.0 to 2.5.1);
    otherwise uv where present, else pip (PyTorch's own advice for conda envs from 2.6 on)."""
    if choice != "auto":
        return choice
    on_pytorch_channel = plan.conda is not None and plan.conda[0] != "-c"
    if env.conda and on_pytorch_channel:
        return "conda"
    return "uv" if process.which("uv") else "pip"


def _tool(chosen: InstallerKind) -> str:
    if chosen is InstallerKind.UV:
        return process.which("uv") or "uv"
    if chosen is InstallerKind.CONDA:
        return process.which("mamba") or process.which("conda") or "conda"
    return ""  # pip runs as python -m pip in the target interpreter


def _network(chosen: InstallerKind, env: PythonEnv, tool: str) -> NetSettings:
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


def _report(shown: Shown, status: str, changes: Optional[List[str]] = None) -> None:
    if shown.json_out:
        if status != "installing":
            emit_json(_json(shown, status))
        return
    from gpusetup.render.install import render_explain, render_plan  # rich only when printing

    console = make_console()
    if shown.python is not None:
        where = f"into {shown.python.path} ({shown.python.describe()})"
        console.print(where, markup=False, soft_wrap=True)
    command = redact(decide.shell_line(shown.argv))
    render_plan(shown.plan, command, status, changes or [], console, shown.settings)
    if shown.explain:
        render_explain(shown.plan, console)


def _json(shown: Shown, status: str) -> dict[str, object]:
    plan, target = shown.plan, shown.python
    return {
        "schema": decide.INSTALL_SCHEMA,
        "status": status,
        "python": {"path": target.path, "reason": target.reason.value} if target else None,
        "torch": plan.torch,
        "variant": plan.variant,
        "index_url": plan.index_url,
        "packages": plan.packages,
        "pins": plan.pins,
        "command": [redact(a) for a in shown.argv],
        "settings": {
            "kept": [
                {"name": k.name, "value": redact(k.value), "source": k.source}
                for k in shown.settings.kept
            ],
            "ignored": [
                {"name": i.name, "source": i.source, "adds_source": i.adds_source}
                for i in shown.settings.ignored
            ],
        },
        "reasons": plan.reasons,
        "candidates": [
            {"torch": c.torch, "variant": c.variant, "accepted": c.accepted, "reason": c.reason}
            for c in plan.candidates
        ],
    }


def _verify(plan: Plan, checked: Checked) -> dict[str, str]:
    """Probe the target: torch imports, every member is the planned version and build, CUDA works."""
    python = checked.python
    facts = probe_torch(python)
    if facts.status != "ok":
        raise CommandFailed(
            f"after the install, torch does not work in {python}: {facts.status} {facts.error[:120]}",
            f"run gpusetup doctor --python {python}",
        )
    copies: dict[str, List[str]] = {}
    for dist in facts.distributions:
        if dist.name in FAMILY and os.path.basename(dist.location) != "conda-meta":
            copies.setdefault(dist.name, []).append(dist.version)
    found = decide.Installed(copies, facts.version or "", facts.cuda_build)
    local_tags = checked.installer is not InstallerKind.CONDA
    wrong = decide.differences(plan, found, checked.pypi_default, local_tags)
    if not decide.pins_hold(plan.pins, describe_python(python).installed):
        wrong.append(f"pins: {', '.join(plan.pins)} do not hold")
    if wrong:
        raise CommandFailed(
            f"the installer succeeded, but {python} does not hold the plan: " + "; ".join(wrong),
            "no constraints file was written; run gpusetup doctor --python " + python,
        )
    if plan.variant.startswith("cu") and checked.has_gpu and not facts.cuda_available:
        raise CommandFailed(
            f"torch {facts.version} is installed but CUDA is not usable: {facts.init_error[:120]}",
            f"run gpusetup doctor --python {python} for the cause and its fix",
        )
    return {name: versions[0] for name, versions in copies.items()}


def _write_constraints(path: str, plan: Plan, verified: dict[str, str]) -> None:
    """Written from what the probe found installed, never from the plan alone."""
    try:
        Path(path).write_text(decide.constraints_text(plan, verified), encoding="utf-8")
    except OSError as err:
        raise CommandFailed(
            f"--constraints {path}: could not write it: {err.strerror}", "torch is installed"
        ) from None
