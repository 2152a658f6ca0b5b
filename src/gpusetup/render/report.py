"""The fleet report for people (rich) and for CI summaries (Markdown)."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from gpusetup.fleet.summary import FleetReport, Node
from gpusetup.render.console import markdown_cell

if TYPE_CHECKING:
    from rich.console import Console


def _verify(node: Node) -> str:
    return "-" if node.verify_passed is None else ("pass" if node.verify_passed else "FAIL")


def _gpus(node: Node) -> str:
    if not node.gpus:
        return "-"
    models = sorted(set(node.gpus))
    return ", ".join(f"{node.gpus.count(m)} x {m}" for m in models)


def render_report(fleet: FleetReport, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for column in ("node", "driver", "CUDA", "torch", "GPUs", "doctor", "verify"):
        table.add_column(column)
    for node in fleet.nodes:
        doctor = ", ".join(node.doctor_errors) or "ok"
        table.add_row(
            node.name,
            node.driver or "-",
            node.cuda or "-",
            node.torch or "-",
            _gpus(node),
            Text(doctor, style="red" if node.doctor_errors else "green"),
            Text(_verify(node), style="red" if node.verify_passed is False else "green"),
        )
    console.print(table)
    for title, lines in (
        ("version skew", fleet.skew),
        ("slow GPUs", fleet.slow),
        ("problems", fleet.problems),
    ):
        if lines:
            console.print(Text(title + ":", style="bold yellow"))
            for line in lines:
                console.print(f"  • {line}")
    verdict = "nothing stands out" if not int(fleet.exit_code) else "something stands out"
    console.print(
        Text(
            f"{len(fleet.nodes)} node(s): {verdict} → exit {int(fleet.exit_code)}",
            style="bold green" if not int(fleet.exit_code) else "bold red",
        )
    )


def markdown_report(fleet: FleetReport) -> str:
    lines: List[str] = [
        "## gpusetup",
        "",
        "| node | driver | CUDA | torch | GPUs | doctor | verify |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in fleet.nodes:
        lines.append(
            _row(
                n.name,
                n.driver or "-",
                n.cuda or "-",
                n.torch or "-",
                _gpus(n),
                ", ".join(n.doctor_errors) or "ok",
                _verify(n),
            )
        )
    for node in fleet.nodes:
        if node.results:
            lines += [
                "",
                f"### {markdown_cell(node.name)}: verify",
                "",
                "| gpu | benchmark | dtype | value | % peak | result |",
                "|---|---|---|---|---|---|",
            ]
            for r in node.results:
                value = "-" if r.get("value") is None else f"{r['value']:g} {r.get('unit', '')}"
                frac = r.get("fraction_of_peak")
                status = (
                    "skip"
                    if r.get("skipped")
                    else ("ok" if r.get("ok") else f"FAIL {r.get('reason', '')}")
                )
                lines.append(
                    _row(
                        r.get("gpu"),
                        r.get("benchmark"),
                        r.get("dtype"),
                        value,
                        "-" if frac is None else f"{frac:.0%}",
                        status,
                    ).replace("| FAIL ", "| **FAIL** ", 1)
                )
    for title, items in (
        ("Version skew", fleet.skew),
        ("Slow GPUs", fleet.slow),
        ("Problems", fleet.problems),
    ):
        if items:
            lines += ["", f"**{title}**", ""] + [f"- {markdown_cell(item)}" for item in items]
    return "\n".join(lines)


def _row(*cells: object) -> str:
    """One Markdown table row; no value can break out of its cell."""
    return "| " + " | ".join(markdown_cell(c) for c in cells) + " |"
