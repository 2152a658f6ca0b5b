"""gpusetup install: resolve the right torch build for this (or another) machine and install it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from gpusetup import install as decide
from gpusetup.commands.edge import cli_edge
from gpusetup.errors import CommandFailed, UsageError
from gpusetup.facts import process
from gpusetup.facts.nvml import collect_nvml
from gpusetup.facts.probe import probe_torch, target_python
from gpusetup.facts.pyenv import PythonEnv, describe_python
from gpusetup.profiles.load import load_profiles
from gpusetup.profiles.model import Profiles
from gpusetup.render.console import make_console, print_line
from gpusetup.resolve import FAMILY, Plan, Request, resolve

INSTALLERS = ("auto", "pip", "uv", "conda")


@cli_edge
def install(
    torch: Optional[str] = typer.Option(
        None,
        "--torch",
        help="Version or range: 2.4.1, 2.1, 2.1.*, '>=2.3' [default: newest that fits].",
    ),
    cuda: str = typer.Option("auto", "--cuda", help="auto, cpu, 11.8, cu121 or rocm6.1."),
    packages: Optional[str] = typer.Option(
        None,
        "--packages",
        help="Comma list of torch,torchvision,torchaudio [default: those the release has].",
    ),
    python: Optional[str] = typer.Option(
        None, "--python", help="Interpreter to install into [default: this one]."
    ),
    installer: str = typer.Option("auto", "--installer", help="auto, pip, uv or conda."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the plan and command; change nothing."
    ),
    print_only: bool = typer.Option(
        False, "--print", help="Print only the shell command (for eval or a Dockerfile)."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the plan as JSON (gpusetup.install/1)."
    ),
    fmt: str = typer.Option(
        "command",
        "--format",
        help="command, requirements, uv (pyproject snippet) or conda (environment.yml).",
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
        None, "--constraints", help="Write a pip constraints file pinning the family."
    ),
    profile: Optional[str] = typer.Option(
        None, "--profile", help="Use a named stack from a profile directory."
    ),
    profiles_dir: List[str] = typer.Option(
        [], "--profiles", help="Extra profile directory (repeatable)."
    ),
) -> None:
    """Resolve the matching PyTorch build (torch + torchvision + torchaudio) and install it, safely."""
    _check_options(installer, fmt, constraints)
    profiles = load_profiles(profiles_dir)
    request = _request(torch, cuda, packages, installer, profile, profiles)
    interpreter = target_python(python)
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
    argv = _argv(_installer(installer, env, plan), interpreter, env, plan)
    if print_only or fmt != "command":
        text = (
            decide.shell_line(argv)
            if fmt == "command"
            else decide.render_format(plan, fmt, machine.python)
        )
        print_line(text.rstrip())
        return
    if dry_run:
        _report(plan, argv, "planned", json_out, explain)
        _write_constraints(constraints, plan, None)
        return
    default_build = profiles.releases[plan.torch].default_build(machine.platform)
    if decide.already_installed(plan, env.installed, default_build):
        _report(plan, argv, "already-installed", json_out, explain)
        _write_constraints(constraints, plan, env.installed)
        return
    changes = decide.changes(plan, env.installed) if env.installed else []
    _report(plan, argv, "installing", json_out, explain, changes)
    from gpusetup.runner import run_installer

    run_installer(argv, to_stderr=json_out)
    _write_constraints(constraints, plan, _check_after(interpreter, plan, bool(gpus)))
    if json_out:
        print_line(json.dumps(_json(plan, argv, "installed"), indent=2))
    else:
        make_console().print(f"[bold green]✔ installed torch {plan.torch} ({plan.variant})[/]")


def _check_options(installer: str, fmt: str, constraints: Optional[str]) -> None:
    if installer not in INSTALLERS:
        raise UsageError(
            f"--installer {installer}: unknown installer", "one of " + ", ".join(INSTALLERS)
        )
    if fmt not in decide.FORMATS:
        raise UsageError(f"--format {fmt}: unknown format", "one of " + ", ".join(decide.FORMATS))
    if constraints is not None and not Path(constraints).resolve().parent.is_dir():
        raise UsageError(f"--constraints {constraints}: its directory does not exist")


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


def _argv(chosen: str, interpreter: str, env: PythonEnv, plan: Plan) -> List[str]:
    if chosen == "uv":
        return decide.uv_argv(process.which("uv") or "uv", interpreter, plan)
    if chosen == "conda":
        tool = process.which("mamba") or process.which("conda") or "conda"
        return decide.conda_argv(tool, env.prefix, plan)
    return decide.pip_argv(interpreter, plan)


def _report(
    plan: Plan,
    argv: List[str],
    status: str,
    json_out: bool,
    explain: bool,
    changes: Optional[List[str]] = None,
) -> None:
    if json_out:
        if status != "installing":
            print_line(json.dumps(_json(plan, argv, status), indent=2))
        return
    from gpusetup.render.install import render_explain, render_plan  # rich only when printing

    console = make_console()
    render_plan(plan, decide.shell_line(argv), status, changes or [], console)
    if explain:
        render_explain(plan, console)


def _json(plan: Plan, argv: List[str], status: str) -> dict[str, object]:
    return {
        "schema": decide.INSTALL_SCHEMA,
        "status": status,
        "torch": plan.torch,
        "variant": plan.variant,
        "index_url": plan.index_url,
        "packages": plan.packages,
        "pins": plan.pins,
        "command": argv,
        "reasons": plan.reasons,
        "candidates": [
            {"torch": c.torch, "variant": c.variant, "accepted": c.accepted, "reason": c.reason}
            for c in plan.candidates
        ],
    }


def _check_after(python: str, plan: Plan, has_gpu: bool) -> dict[str, str]:
    """Run the doctor probe in the target: torch must import, be the planned build, and see CUDA."""
    facts = probe_torch(python)
    if facts.status != "ok":
        raise CommandFailed(
            f"after the install, torch does not work in {python}: {facts.status} {facts.error[:120]}",
            f"run gpusetup doctor --python {python}",
        )
    build = facts.cuda_build
    if plan.variant.startswith("cu") and not build:
        raise CommandFailed(
            f"after the install, torch {facts.version} is not a CUDA build", "run gpusetup doctor"
        )
    if plan.variant.startswith("cu") and has_gpu and not facts.cuda_available:
        raise CommandFailed(
            f"torch {facts.version} is installed but CUDA is not usable: {facts.init_error[:120]}",
            f"run gpusetup doctor --python {python} for the cause and its fix",
        )
    return {d.name: d.version for d in facts.distributions if d.name in FAMILY}


def _write_constraints(
    path: Optional[str], plan: Plan, installed: Optional[dict[str, str]]
) -> None:
    if path is not None:
        Path(path).write_text(decide.constraints_text(plan, installed), encoding="utf-8")
