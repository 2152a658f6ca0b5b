"""gpusetup doctor: collect facts (or replay them), run every check, print findings with fixes."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from gpusetup.commands.edge import cli_edge
from gpusetup.facts.probe import DEFAULT_TIMEOUT, target_python
from gpusetup.render.console import make_console, print_line


@cli_edge
def doctor(
    json_out: bool = typer.Option(
        False, "--json", help="Print the versioned JSON report (gpusetup.doctor/1)."
    ),
    python: Optional[str] = typer.Option(
        None, "--python", help="Interpreter whose torch to probe [default: this one]."
    ),
    no_probe: bool = typer.Option(
        False, "--no-probe", help="Skip the torch probe (the fast path)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail too (exit 1): for CI."),
    ignore: List[str] = typer.Option([], "--ignore", help="Skip a finding id (repeatable)."),
    facts_file: Optional[str] = typer.Option(
        None,
        "--facts",
        help="Re-diagnose a doctor --json report, or a pasted collect_env / nvidia-smi / nvidia-smi -q "
        "('-': stdin).",
    ),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT, "--timeout", help="Seconds the torch probe may take."
    ),
    profiles_dir: List[str] = typer.Option(
        [], "--profiles", help="Extra profile directory (repeatable)."
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
    from gpusetup.checks.registry import all_ids, validate_ignores
    from gpusetup.doctor import diagnose, load_facts_file
    from gpusetup.facts.collect import collect_facts
    from gpusetup.profiles.load import load_profiles
    from gpusetup.render.doctor import render_doctor

    if list_checks:
        for finding_id, meaning in all_ids().items():
            print_line(f"{finding_id:<28} {meaning}")
        return
    validate_ignores(ignore)
    profiles = load_profiles(profiles_dir)
    if facts_file is not None:
        facts = load_facts_file(facts_file)
    else:
        interpreter = None if no_probe else target_python(python)
        facts = collect_facts(interpreter, run_probe=not no_probe, probe_timeout=timeout)
    report = diagnose(facts, profiles, ignore, strict)
    if json_out:
        print_line(json.dumps(report.to_dict(), indent=2))
    elif markdown:
        from gpusetup.render.markdown import render_markdown

        print_line(render_markdown(report).rstrip("\n"))
    else:
        render_doctor(report, make_console())
    raise typer.Exit(int(report.exit_code))
