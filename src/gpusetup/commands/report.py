"""gpusetup report: one table for many nodes' doctor --json / verify --json outputs."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.errors import UsageError
from gpusetup.render.console import make_console, print_line

Files = Annotated[
    Optional[List[str]],
    typer.Argument(
        metavar="FILE...", help="doctor --json / verify --json files, one or more per node."
    ),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print the fleet report as JSON (gpusetup.report/1).")
]
Markdown = Annotated[
    bool, typer.Option("--markdown", help="Print Markdown (for $GITHUB_STEP_SUMMARY).")
]
Threshold = Annotated[
    float,
    typer.Option(
        "--threshold",
        metavar="FRACTION",
        help="Name GPUs this fraction below the fleet median.",
    ),
]


@cli_edge
def report(
    files: Files = None,
    json_out: Json = False,
    markdown: Markdown = False,
    threshold: Threshold = 0.10,
) -> None:
    """Read many nodes' reports: version skew, failing nodes and slow GPUs; exit 1 when something stands out."""
    from gpusetup.fleet.summary import build_fleet, read_reports
    from gpusetup.render.report import markdown_report, render_report

    if not 0 < threshold < 1:
        raise UsageError(f"--threshold {threshold}: must be a fraction between 0 and 1, e.g. 0.1")
    fleet = build_fleet(read_reports(files or []), threshold)
    if json_out:
        emit_json(fleet.to_dict())
    elif markdown:
        print_line(markdown_report(fleet))
    else:
        render_report(fleet, make_console())
    raise typer.Exit(int(fleet.exit_code))
