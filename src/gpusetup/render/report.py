"""The fleet report for people (rich) and for CI summaries (Markdown)."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from gpusetup.fleet.summary import FleetReport, Node
from gpusetup.render.console import markdown_cell

if TYPE_CHECKING:
    from rich.console import Console


def _verify(node: Node) -> str:
    if any(run.startswith("verify ") for run in node.failed_runs):
        return "did not finish"
    return "-" if node.verify_passed is None else ("pass" if node.verify_passed else "FAIL")


def _doctor_cell(node: Node) -> str:
    if "doctor" not in node.sources:
        return "-"
    return "did not finish" if _doctor_failed(node) else (", ".join(node.doctor_errors) or "ok")


def _doctor_failed(node: Node) -> bool:
    """A doctor run that ended in an error reported nothing: it is not an "ok" node."""
    return any(run.startswith("doctor ") for run in node.failed_runs)


def _gpus(node: Node) -> str:
    if not node.gpus:
        return "-"
    models = sorted(set(node.gpus))
    return ", ".join(f"{node.gpus.count(m)} x {m}" for m in models)


def _short_gpus(node: Node) -> str:
    """The GPU models without the vendor's name (every one is NVIDIA's), one per line."""
    if not node.gpus:
        return "-"
    models = sorted(set(node.gpus))
    return "\n".join(f"{node.gpus.count(m)} x {m.removeprefix('NVIDIA ')}" for m in models)


def render_report(fleet: FleetReport, console: Console) -> None:
    """One node a row, its values whole; which findings failed a node is listed under problems."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("node", "driver", "CUDA", "torch", "GPUs", "doctor", "verify"):
        table.add_column(column, no_wrap=column != "GPUs")
    for node in fleet.nodes:
        errors = len(node.doctor_errors)
        doctor = f"{errors} error{'s' if errors != 1 else ''}" if errors else "ok"
        doctor = "did not finish" if _doctor_failed(node) else doctor
        doctor = doctor if "doctor" in node.sources else "-"  # no doctor report for this node
        table.add_row(
            node.name,
            node.driver or "-",
            node.cuda or "-",
            node.torch or "-",
            _short_gpus(node),
            Text(doctor, style="red" if errors or _doctor_failed(node) else "green"),
            Text(
                _verify(node),
                style="red"
                if node.verify_passed is False or _verify(node) == "did not finish"
                else "green",
            ),
        )
    console.print(table)
    for title, lines in (
        ("version skew", fleet.skew),
        ("slow GPUs", fleet.slow),
        ("problems", fleet.problems),
    ):
        if lines:
            console.print(Text(title + ":", style="bold yellow"))
            bullets = Table.grid(padding=(0, 1))
            bullets.add_column(no_wrap=True)
            bullets.add_column()
            for line in lines:
                bullets.add_row("  •", line)
            console.print(bullets)
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
                _doctor_cell(n),
                _verify(n),
            )
        )
    for node in fleet.nodes:
        if node.results:
            lines += _markdown_results(node)
    for title, items in (
        ("Version skew", fleet.skew),
        ("Slow GPUs", fleet.slow),
        ("Problems", fleet.problems),
    ):
        if items:
            lines += ["", f"**{title}**", ""] + [f"- {markdown_cell(item)}" for item in items]
    return "\n".join(lines)


def _markdown_results(node: Node) -> List[str]:
    """A node's verify rows as their own table, each failure in bold."""
    lines = [
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
            "skip" if r.get("skipped") else ("ok" if r.get("ok") else f"FAIL {r.get('reason', '')}")
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
    return lines


def _row(*cells: object) -> str:
    """One Markdown table row; no value can break out of its cell."""
    return "| " + " | ".join(markdown_cell(c) for c in cells) + " |"
