"""One `gpusetup install`: plan for the target and machine, then print, plan only, or install and check."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from gpusetup.facts.installer_config import NetSettings
from gpusetup.facts.nvml import collect_nvml
from gpusetup.facts.pyenv import describe_python
from gpusetup.facts.target import checked_target
from gpusetup.install import plan as decide
from gpusetup.install.installer_choice import choose_installer, installer_tool, network_settings
from gpusetup.install.installers import STRATEGIES, Target
from gpusetup.install.post_check import Checked, check_installed, write_constraints
from gpusetup.install.request import InstallOptions, build_request, check_stack_python
from gpusetup.install.resolve import resolve
from gpusetup.install.result import InstallResult, InstallStatus
from gpusetup.profiles.load import load_profiles

# Called with the plan before anything changes (the installer runs, or an installed stack is checked).
BeforeWork = Callable[[InstallResult], None]


def run_install(o: InstallOptions, before_work: BeforeWork) -> InstallResult:
    """Resolve the build for the target interpreter and this (or the given) machine; then, as asked,
    return the text to print, the plan, or install it and return what the target reports holding."""
    profiles = load_profiles(o.profiles_dir)
    request = build_request(o, profiles)
    chosen_python = checked_target(o.python)
    interpreter = chosen_python.path
    env = describe_python(interpreter)
    check_stack_python(o, profiles, env)
    nvml_driver, gpus = collect_nvml()
    overrides = decide.Overrides(o.driver, o.arch, o.python_version, o.platform)
    machine = decide.plan_machine(env, nvml_driver, gpus, overrides)
    wanted = "pip" if o.installer == "auto" else o.installer
    plan = resolve(replace(request, installer=wanted), machine, profiles)
    chosen = choose_installer(o.installer, env, plan)
    strategy, tool = STRATEGIES[chosen], installer_tool(chosen)
    target = Target(interpreter, env.prefix, env.conda)
    if o.prints_text:
        if (o.fmt or "command") == "command":
            text = decide.shell_line(strategy.argv(tool, target, plan, NetSettings()))
        else:
            text = decide.render_format(plan, o.fmt or "command", machine.python)
        return InstallResult(plan, text=text.rstrip())
    settings = network_settings(chosen, env, tool)
    shown = InstallResult(
        plan, strategy.argv(tool, target, plan, settings), settings, chosen_python
    )
    pypi_default = profiles.releases[plan.torch].default_build(machine.platform)
    checked = Checked(interpreter, bool(gpus), pypi_default, chosen)
    if o.dry_run:
        return shown
    if decide.already_installed(plan, env.installed, pypi_default):
        done = replace(shown, status=InstallStatus.ALREADY_INSTALLED)
        if o.constraints is not None:
            before_work(done)
            write_constraints(o.constraints, plan, check_installed(plan, checked))
        return done
    changes = decide.changes(plan, env.installed) if env.installed else []
    before_work(replace(shown, status=InstallStatus.INSTALLING, changes=changes))
    from gpusetup.install.apply import run_installer

    run_installer(strategy, shown.argv, settings, to_stderr=o.json_out)
    verified = check_installed(plan, checked)
    if o.constraints is not None:
        write_constraints(o.constraints, plan, verified)
    return replace(shown, status=InstallStatus.INSTALLED, changes=changes, installed=verified)
