"""gpusetup doctor: collect facts (or replay them), run every check, print findings with fixes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

import typer

from gpusetup.commands import options_doctor as opt
from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.option_checks import positive_finite
from gpusetup.commands.options import Profiles, Python
from gpusetup.facts.probe import DEFAULT_TIMEOUT
from gpusetup.facts.target import checked_target
from gpusetup.profiles.load import load_profiles
from gpusetup.render.console import make_console, print_line

if TYPE_CHECKING:
    from gpusetup.doctor.report import DoctorReport
    from gpusetup.facts.model import Facts


@cli_edge
def doctor(
    json_out: opt.Json = False,
    python: Python = None,
    no_probe: opt.NoProbe = False,
    strict: opt.Strict = False,
    ignore: opt.Ignore = None,
    facts_file: opt.Facts = None,
    timeout: opt.Timeout = DEFAULT_TIMEOUT,
    profiles_dir: Profiles = None,
    expect_gpus: opt.ExpectGpus = None,
    markdown: opt.Markdown = False,
    list_checks: opt.ListChecks = False,
) -> None:
    """Detect the driver, GPUs, toolkit and torch stack; print each problem with its exact fix."""
    # Imported here so other commands do not pay for the checks and rich at start-up.
    from gpusetup.doctor.checks.gpu_count import parse_expect_gpus
    from gpusetup.doctor.registry import all_ids, validate_ignores
    from gpusetup.doctor.report import diagnose

    _check_outputs(json_out, markdown, list_checks)
    if list_checks:
        for finding_id, meaning in all_ids().items():
            print_line(f"{finding_id:<28} {meaning}")
        return
    ignored = ignore or []
    validate_ignores(ignored)
    expected = parse_expect_gpus(expect_gpus)
    timeout = positive_finite(
        "--timeout", timeout, "give the seconds the probe may take, e.g. --timeout 120"
    )
    profiles = load_profiles(profiles_dir or ())
    facts = _facts(facts_file, python, no_probe, timeout)
    report = diagnose(facts, profiles, ignored, strict, expected)
    _render(report, json_out, markdown)
    raise typer.Exit(int(report.exit_code))


def _check_outputs(json_out: bool, markdown: bool, list_checks: bool) -> None:
    """One output at a time: a silently dropped --markdown or --json would mislead a script."""
    from gpusetup.errors import UsageError

    if json_out and markdown:
        raise UsageError(
            "--json cannot be combined with --markdown: each is a whole output",
            "drop one: --json for programs, --markdown for an issue comment",
        )
    if list_checks and (json_out or markdown):
        given = "--json" if json_out else "--markdown"
        raise UsageError(
            f"--list-checks cannot be combined with {given}: it prints the table of check ids",
            f"drop {given}: the table is one id and its meaning per line",
        )


def _facts(
    facts_file: Optional[str], python: Optional[str], no_probe: bool, timeout: float
) -> Facts:
    """The facts of a --facts file, else of this machine (and of the target interpreter, if probed)."""
    from gpusetup.doctor.report import load_facts_file
    from gpusetup.facts.collect import collect_facts
    from gpusetup.render.progress import probing

    if facts_file is not None:
        return load_facts_file(facts_file)
    target = None if no_probe else checked_target(python, timeout=timeout)
    with probing(target.path if target else None, timeout, sys.stderr.isatty()):
        return collect_facts(
            target.path if target else None,
            run_probe=not no_probe,
            probe_timeout=timeout,
            target=target,
        )


def _render(report: DoctorReport, json_out: bool, markdown: bool) -> None:
    """JSON for programs, Markdown for an issue comment, else the report for people."""
    from gpusetup.render.doctor import render_doctor

    if json_out:
        emit_json(report.to_dict())
    elif markdown:
        from gpusetup.render.markdown import render_markdown

        print_line(render_markdown(report).rstrip("\n"))
    else:
        render_doctor(report, make_console())
