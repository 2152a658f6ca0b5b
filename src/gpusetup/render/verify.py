"""verify for people (rich table), for machines (JSON) and for CI (JUnit XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, Dict, List

from gpusetup.verify.score import Row, VerifyResult, rate_text
from gpusetup.verify.vocab import PT2_WORKLOADS

if TYPE_CHECKING:
    from rich.console import Console


def render_verify(result: VerifyResult, console: Console) -> None:
    from rich.text import Text

    if result.python:
        console.print(
            Text(f"Python: {result.python['path']} ({result.python['why']})", style="dim")
        )
    for device in result.devices:
        if result.mode == "collectives":
            label = str(device["name"])
        else:
            label = f"GPU {device['gpu']}: {device['name']}" if device["gpu"] >= 0 else "CPU"
        console.print(
            Text(label, style="bold") + Text(f"  torch {device.get('torch', '?')}", style="dim")
        )
    first = "slowest rank" if result.mode == "collectives" else "gpu"
    pt2 = [r for r in result.rows if r.benchmark in PT2_WORKLOADS]
    _print_table(console, [r for r in result.rows if r.benchmark not in PT2_WORKLOADS], first)
    if pt2:  # its own table: its sizes and notes would squeeze the measurements' columns
        console.print(Text("PyTorch 2 workloads", style="bold"))
        _print_table(console, pt2, first)
    verdict = "PASS" if result.passed else "FAIL"
    failed = sum(1 for r in result.rows if not r.ok)
    console.print(
        Text(
            f"{verdict}: {len(result.rows) - failed} of {len(result.rows)} checks ok in "
            f"{result.seconds:.1f} s → exit {int(result.exit_code)}",
            style="bold green" if result.passed else "bold red",
        )
    )


def _print_table(console: Console, rows: List[Row], first: str) -> None:
    """The table with size and note columns when it fits the width; else the measurements alone,
    each row's size and note stacked below it (a number or a name is never cut)."""
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    wide = _table(rows, first, stacked=False)
    options = console.options.update_width(10_000)
    if Measurement.get(console, options, wide).minimum + 20 <= console.width:  # notes wrap
        console.print(wide)
        return
    console.print(_table(rows, first, stacked=True))
    notes = Table.grid(padding=(0, 1))
    notes.add_column(no_wrap=True)
    notes.add_column(overflow="fold")
    for row in rows:
        below = " · ".join(p for p in (size_text(row.size), row.reason) if p)
        if below:
            where = "cpu" if row.gpu < 0 else str(row.gpu)
            notes.add_row(Text(f"  {where} {row.benchmark} {row.dtype}:"), Text(below))
    if notes.row_count:
        console.print(notes)


def _table(rows: List[Row], first: str, stacked: bool) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    numbers = ("value", "% peak", "floor", "fp64 err")
    extra = () if stacked else ("size", "note")
    for column in (first, "benchmark", "dtype", *numbers, "", *extra):
        table.add_column(
            column, justify="right" if column in numbers else "left", no_wrap=column != "note"
        )
    for row in rows:
        status = (
            Text("skip", style="dim")
            if row.skipped
            else (Text("ok", style="green") if row.ok else Text("FAIL", style="bold red"))
        )
        cells = [  # Text, not markup: names and reasons come from the child, "[/x]" is data
            "cpu" if row.gpu < 0 else str(row.gpu),
            row.benchmark,
            row.dtype,
            value_text(row),
            "-" if row.fraction_of_peak is None else f"{row.fraction_of_peak:.0%}",
            "-" if row.floor is None else f"{row.floor:,.4g}",
            "-" if row.error is None else f"{row.error:.1e}",
        ]
        if not stacked:
            table.add_row(
                *[Text(c) for c in cells], status, Text(size_text(row.size)), Text(row.reason)
            )
            continue
        table.add_row(*[Text(c) for c in cells], status)
    return table


def value_text(row: Row) -> str:
    return "-" if row.value is None else f"{rate_text(row.value)} {row.unit}"


def size_text(size: Dict[str, Any]) -> str:
    """The sizes a measurement used, short: '8192^3' (--json has them all, and the time taken)."""
    if "m" in size:
        m, n, k = size["m"], size["n"], size["k"]
        shape = f"{m}^3" if m == n == k else f"{m}x{n}x{k}"
    elif "backend" in size:  # attention: the SDPA backend (the shape is in the JSON)
        backend = str(size["backend"]).replace("mem-efficient", "mem-eff")
        shape = backend
    elif "layers" in size:  # train-step
        shape = f"{size['layers']}L d{size['d_model']}"
    elif "rows" in size:  # compile (the cold compile time is in the note and the JSON)
        shape = f"{size['rows']}x{size['width']}"
    elif "batch" in size:
        shape = f"{size['batch']}x{size['channels']}x{size['height']}x{size['width']}"
    elif "bytes" in size:
        shape = f"{size['bytes'] / 2**20:,.0f} MiB"
    else:
        shape = ""
    return shape


def progress_line(event: Dict[str, object]) -> str:
    """One plain line per finished measurement, for logs that are not a terminal."""
    value = event.get("value")
    shown = (
        "skipped"
        if value is None and event.get("ok")
        else (f"{rate_text(value)} {event.get('unit')}" if isinstance(value, float) else "failed")
    )
    status = "ok" if event.get("ok") else "FAIL"
    gpu = event.get("gpu")
    where = "cpu" if gpu == -1 else f"gpu{gpu}"
    return f"{where} {event.get('benchmark')} {event.get('dtype')}: {shown} [{status}] {event.get('reason') or ''}".rstrip()


def junit_xml(result: VerifyResult) -> str:
    """JUnit XML, one testcase per measurement, as GitHub Actions, GitLab and Jenkins read it."""
    suites = ET.Element("testsuites", name="gpusetup verify")
    by_gpu: Dict[int, List[Row]] = {}
    for row in result.rows:
        by_gpu.setdefault(row.gpu, []).append(row)
    for gpu, rows in by_gpu.items():
        name = rows[0].name if rows else ""
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"verify.{'cpu' if gpu < 0 else f'gpu{gpu}'}",
            tests=str(len(rows)),
            failures=str(sum(1 for r in rows if not r.ok)),
            skipped=str(sum(1 for r in rows if r.skipped)),
            time=f"{sum(r.seconds for r in rows):.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="device", value=name)
        ET.SubElement(properties, "property", name="mode", value=result.mode)
        for row in rows:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"gpusetup.verify.{'cpu' if gpu < 0 else f'gpu{gpu}'}",
                name=f"{row.benchmark} {row.dtype}"
                + (
                    f" {row.size['backend']}" if "backend" in row.size else ""
                ),  # one per SDPA backend
                time=f"{row.seconds:.3f}",
            )
            if row.skipped:
                ET.SubElement(case, "skipped", message=row.reason)
            elif not row.ok:
                failure = ET.SubElement(case, "failure", message=row.reason, type="gpusetup.verify")
                failure.text = f"{row.value} {row.unit}; floor {row.floor}; fraction of peak {row.fraction_of_peak}"
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"{row.value} {row.unit} ({row.fraction_of_peak if row.fraction_of_peak is not None else 'n/a'} of peak)"
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


from gpusetup.render.progress import VerifyProgress as Progress  # noqa: E402 - the name verify uses

__all__ = ["Progress", "junit_xml", "progress_line", "render_verify", "size_text", "value_text"]
