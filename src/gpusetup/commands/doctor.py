"""gpusetup doctor: collect facts (or replay them), run every check, print findings with fixes."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.validate import positive_finite
from gpusetup.facts.probe import DEFAULT_TIMEOUT
from gpusetup.facts.target import PYTHON_HELP, checked_target
from gpusetup.render.console import make_console, print_line


@cli_edge
def doctor(
    json_out: bool = typer.Option(
        False, "--json", help="Print the versioned JSON report (gpusetup.doctor/1)."
    ),
    python: Optional[str] = typer.Option(None, "--python", metavar="PATH", help=PYTHON_HELP),
    no_probe: bool = typer.Option(
        False, "--no-probe", help="Skip the torch probe (the fast path)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail too (exit 1): for CI."),
    ignore: List[str] = typer.Option(
        [], "--ignore", metavar="ID", help="Skip a finding id (repeatable)."
    ),
    facts_file: Optional[str] = typer.Option(
        None,
        "--facts",
        metavar="PATH",
        help="Re-diagnose a doctor --json report, or a pasted collect_env / nvidia-smi / nvidia-smi -q "
        "('-': stdin).",
    ),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, "--timeout", metavar="SECONDS", help="Seconds the torch probe may take."
    ),
    profiles_dir: List[str] = typer.Option(
        [], "--profiles", metavar="DIR", help="Extra profile directory (repeatable)."
    ),
    expect_gpus: Optional[str] = typer.Option(
        None,
        "--expect-gpus",
        metavar="N",
        help="An error when fewer GPUs than this are visible: for CI.",
    ),
    markdown: bool = typer.Option(
        False, "--markdown", help="Print a short Markdown diagnosis (for an issue comment)."
    ),
    list_checks: bool = typer.Option(
        False, "--list-checks", help="List every finding id and exit."
    ),
) -> None:
    """Detect the driver, GPUs, toolkit and torch stack; print each problem with its exact fix."""
    # Imported here so other commands do not pay for the checks and rich at start-up.
    from gpusetup.doctor.checks.gpu_count import parse_expect_gpus
    from gpusetup.doctor.registry import all_ids, validate_ignores
    from gpusetup.doctor.report import diagnose, load_facts_file
    from gpusetup.facts.collect import collect_facts
    from gpusetup.profiles.load import load_profiles
    from gpusetup.render.doctor import render_doctor
    from gpusetup.render.progress import probing

    if list_checks:
        for finding_id, meaning in all_ids().items():
            print_line(f"{finding_id:<28} {meaning}")
        return
    validate_ignores(ignore)
    expected = parse_expect_gpus(expect_gpus)
    timeout = positive_finite(
        "--timeout", timeout, "give the seconds the probe may take, e.g. --timeout 120"
    )
    profiles = load_profiles(profiles_dir)
    if facts_file is not None:
        facts = load_facts_file(facts_file)
    else:
        target = None if no_probe else checked_target(python, timeout=timeout)
        with probing(target.path if target else None, timeout, sys.stderr.isatty()):
            facts = collect_facts(
                target.path if target else None,
                run_probe=not no_probe,
                probe_timeout=timeout,
                target=target,
            )
    report = diagnose(facts, profiles, ignore, strict, expected)
    if json_out:
        emit_json(report.to_dict())
    elif markdown:
        from gpusetup.render.markdown import render_markdown

        print_line(render_markdown(report).rstrip("\n"))
    else:
        render_doctor(report, make_console())
    raise typer.Exit(int(report.exit_code))
