"""gpusetup install: resolve the right torch build for this (or another) machine and install it."""

from __future__ import annotations

from typing import List, Optional

import typer

from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.facts.target import PYTHON_HELP
from gpusetup.install.command_run import run_install
from gpusetup.install.installers import redact
from gpusetup.install.missing_companions import PACKAGES_HELP
from gpusetup.install.plan import shell_line
from gpusetup.install.request import InstallerChoice, InstallOptions, OutputFormat, check_options
from gpusetup.install.result import InstallResult, InstallStatus
from gpusetup.render.console import make_console, print_line


@cli_edge
def install(
    torch: Optional[str] = typer.Option(
        None,
        "--torch",
        metavar="VERSION",
        help="Version or range: 2.4.1, 2.1, 2.1.*, '>=2.3' [default: newest that fits].",
    ),
    cuda: str = typer.Option(
        "auto",
        "--cuda",
        metavar="VERSION",
        help="auto, cpu, a build (12.6 or cu126), rocm6.1, or the driver's CUDA as nvidia-smi "
        "prints it (12.2: the newest build that driver runs).",
    ),
    packages: Optional[str] = typer.Option(
        None,
        "--packages",
        metavar="LIST",
        help=PACKAGES_HELP,
    ),
    python: Optional[str] = typer.Option(None, "--python", metavar="PATH", help=PYTHON_HELP),
    installer: InstallerChoice = typer.Option(
        InstallerChoice.AUTO,
        "--installer",
        help="Which installer runs [auto: conda in a conda env for releases on the pytorch channel "
        "(2.0-2.5.1), else uv where installed, else pip].",
    ),
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
    fmt: Optional[OutputFormat] = typer.Option(
        None,
        "--format",
        help="command, requirements, uv (pyproject snippet) or conda (environment.yml); not with --json.",
    ),
    explain: bool = typer.Option(
        False, "--explain", help="List every candidate variant and why it was taken or rejected."
    ),
    driver: Optional[str] = typer.Option(
        None,
        "--driver",
        metavar="VERSION",
        help="Plan for this driver version instead of the detected one.",
    ),
    arch: List[str] = typer.Option(
        [], "--arch", metavar="SM", help="Plan for this GPU arch (sm_90; repeatable)."
    ),
    python_version: Optional[str] = typer.Option(
        None, "--python-version", metavar="VERSION", help="Plan for this Python (3.10)."
    ),
    platform: Optional[str] = typer.Option(
        None,
        "--platform",
        metavar="PLATFORM",
        help="Plan for linux_x86_64, linux_aarch64, win_amd64, macos_arm64.",
    ),
    constraints: Optional[str] = typer.Option(
        None,
        "--constraints",
        metavar="PATH",
        help="After a verified install, write a pip constraints file pinning the family to what the target holds.",
    ),
    profile: Optional[str] = typer.Option(
        None, "--profile", metavar="NAME", help="Use a named stack from a profile directory."
    ),
    profiles_dir: List[str] = typer.Option(
        [], "--profiles", metavar="DIR", help="Extra profile directory (repeatable)."
    ),
) -> None:
    """Resolve the matching PyTorch build (torch + torchvision, + torchaudio where the release has one) and install it, safely."""
    options = InstallOptions(
        torch, cuda, packages, python, installer.value, dry_run, print_only, json_out,
        fmt.value if fmt else None, explain,
        driver, tuple(arch), python_version, platform, constraints, profile, tuple(profiles_dir),
    )  # fmt: skip
    check_options(options)
    result = run_install(options, before_work=lambda shown: _before_work(shown, options))
    if result.text is not None:
        print_line(result.text)
    elif json_out:
        emit_json(result.to_dict())
    elif result.status is InstallStatus.INSTALLED:
        from rich.text import Text

        plan = result.plan
        make_console().print(
            Text(f"✔ installed torch {plan.torch} ({plan.variant})", style="bold green")
        )
    elif not (result.status is InstallStatus.ALREADY_INSTALLED and constraints is not None):
        _render(result, explain)  # (an installed stack checked for --constraints was shown before)


def _before_work(shown: InstallResult, options: InstallOptions) -> None:
    """The plan, shown before the installer runs (or before an installed stack is checked)."""
    if not options.json_out:
        _render(shown, options.explain)
    elif shown.status is InstallStatus.ALREADY_INSTALLED:
        emit_json(shown.to_dict())  # a failed check still leaves the plan in the one document


def _render(result: InstallResult, explain: bool) -> None:
    from gpusetup.render.install import render_explain, render_plan  # rich only when printing

    console = make_console()
    if result.python is not None:
        where = f"into {result.python.path} ({result.python.describe()})"
        console.print(where, markup=False, soft_wrap=True)
    command = redact(shell_line(result.argv))
    render_plan(result.plan, command, result.status.value, result.changes, console, result.settings)
    if explain:
        render_explain(result.plan, console)
