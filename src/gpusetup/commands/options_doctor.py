"""doctor's own options, as typed aliases (the shared ones are in commands/options.py)."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

Json = Annotated[
    bool, typer.Option("--json", help="Print the versioned JSON report (gpusetup.doctor/1).")
]
NoProbe = Annotated[bool, typer.Option("--no-probe", help="Skip the torch probe (the fast path).")]
Strict = Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1): for CI.")]
Ignore = Annotated[
    Optional[List[str]],
    typer.Option("--ignore", metavar="ID", help="Skip a finding id (repeatable)."),
]
Facts = Annotated[
    Optional[str],
    typer.Option(
        "--facts",
        metavar="PATH",
        help="Re-diagnose a doctor --json report, or a pasted collect_env / nvidia-smi / nvidia-smi -q "
        "('-': stdin).",
    ),
]
Timeout = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", help="Seconds the torch probe may take.")
]
ExpectGpus = Annotated[
    Optional[str],
    typer.Option(
        "--expect-gpus",
        metavar="N",
        help="An error when fewer GPUs than this are visible: for CI.",
    ),
]
Markdown = Annotated[
    bool,
    typer.Option("--markdown", help="Print a short Markdown diagnosis (for an issue comment)."),
]
ListChecks = Annotated[bool, typer.Option("--list-checks", help="List every finding id and exit.")]
