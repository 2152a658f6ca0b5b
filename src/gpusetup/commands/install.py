"""gpusetup install: resolve the right torch build for this (or another) machine and install it."""

from __future__ import annotations

from gpusetup.commands import options_install as opt
from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.options import Profiles, Python
from gpusetup.install.command_run import run_install
from gpusetup.install.installers import redact
from gpusetup.install.plan import shell_line
from gpusetup.install.request import InstallerChoice, InstallOptions, check_options
from gpusetup.install.result import InstallResult, InstallStatus
from gpusetup.render.console import make_console, print_line


@cli_edge
def install(
    torch: opt.Torch = None,
    cuda: opt.Cuda = "auto",
    packages: opt.Packages = None,
    python: Python = None,
    installer: opt.Installer = InstallerChoice.AUTO,
    dry_run: opt.DryRun = False,
    print_only: opt.PrintOnly = False,
    json_out: opt.Json = False,
    fmt: opt.Format = None,
    explain: opt.Explain = False,
    driver: opt.Driver = None,
    arch: opt.Arch = None,
    python_version: opt.PythonVersion = None,
    platform: opt.Platform = None,
    constraints: opt.Constraints = None,
    profile: opt.Profile = None,
    profiles_dir: Profiles = None,
) -> None:
    """Resolve the matching PyTorch build (torch + torchvision, + torchaudio where the release has one) and install it, safely."""
    options = InstallOptions(
        torch, cuda, packages, python, installer.value, dry_run, print_only, json_out,
        fmt.value if fmt else None, explain,
        driver, tuple(arch or ()), python_version, platform, constraints, profile,
        tuple(profiles_dir or ()),
    )  # fmt: skip
    check_options(options)
    result = run_install(options, before_work=lambda shown: _before_work(shown, options))
    _show(result, options)


def _show(result: InstallResult, options: InstallOptions) -> None:
    """The outcome: the text asked for, the JSON plan, the installed line, or the plan itself."""
    if result.text is not None:
        print_line(result.text)
    elif options.json_out:
        emit_json(result.to_dict())
    elif result.status is InstallStatus.INSTALLED:
        from rich.text import Text

        plan = result.plan
        make_console().print(
            Text(f"✔ installed torch {plan.torch} ({plan.variant})", style="bold green")
        )
    elif not (result.status is InstallStatus.ALREADY_INSTALLED and options.constraints is not None):
        _render(
            result, options.explain
        )  # (an installed stack checked for --constraints was shown before)


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
