"""install for people: the plan, its reasons, what changes, and (with --explain) every candidate."""

from __future__ import annotations

from typing import List, Optional

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpusetup.facts.installer_config import NetSettings
from gpusetup.install.installers import redact
from gpusetup.install.resolve import Plan

_STATUS = {
    "planned": ("plan (dry run: nothing changed)", "cyan"),
    "already-installed": ("already installed: nothing to do", "green"),
    "installing": ("installing", "yellow"),
}


def render_plan(
    plan: Plan,
    command: str,
    status: str,
    changes: List[str],
    console: Console,
    settings: Optional[NetSettings] = None,
) -> None:
    label, style = _STATUS[status]
    console.print(Text(f"torch {plan.torch} · {plan.variant} · {label}", style=f"bold {style}"))
    for package in plan.requirements:
        console.print(f"  {package}")
    console.print(Text("why:", style="bold"))
    reasons = Table.grid(padding=(0, 1))
    reasons.add_column(no_wrap=True)
    reasons.add_column(overflow="fold")
    for reason in plan.reasons:
        reasons.add_row("  •", reason)
    console.print(reasons)
    if changes:
        console.print(Text("changes:", style="bold"))
        for line in changes:
            console.print(f"  {line}")
    if settings is not None:
        render_settings(settings, console)
    console.print(Text("command:", style="bold"))
    console.print(Text(f"  {command}"), soft_wrap=True)


def render_settings(settings: NetSettings, console: Console) -> None:
    """Which of the user's installer settings pass (network only) and which are left out."""
    if settings.kept or settings.ignored:
        console.print(
            Text("installer settings (network only; nothing that adds a source):", style="bold")
        )
    for kept in settings.kept:
        value = redact(kept.value)
        console.print(Text(f"  kept: {kept.name} = {value}  ({kept.source})"), soft_wrap=True)
    sources = [i for i in settings.ignored if i.adds_source]
    for ignored in sources:
        console.print(
            Text(f"  ignored: {ignored.name}  ({ignored.source}): would add a package source"),
            soft_wrap=True,
        )
    others = sorted({i.name for i in settings.ignored if not i.adds_source})
    if others:
        console.print(Text(f"  ignored too: {', '.join(others)}"), soft_wrap=True)


def render_explain(plan: Plan, console: Console) -> None:
    table = Table(title="candidates", box=None, header_style="bold")
    for column in ("torch", "variant", "", "reason"):
        table.add_column(column)
    for c in plan.candidates:
        mark = Text(
            "taken"
            if (c.torch, c.variant) == (plan.torch, plan.variant)
            else ("ok" if c.accepted else "no"),
            style="green" if c.accepted else "red",
        )
        table.add_row(c.torch, str(c.variant), mark, c.reason)
    console.print(table)
