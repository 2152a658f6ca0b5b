"""Consoles are made per invocation (never at import) so tests capture them."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    from rich.console import Console  # imported when something is printed, not at start-up

    stream = sys.stderr if stderr else sys.stdout
    return Console(
        file=stream,
        no_color="NO_COLOR" in os.environ,
        highlight=False,
        soft_wrap=False,
        width=None if stream.isatty() else 110,
    )


def print_line(text: str) -> None:
    """Plain text (JSON too) to stdout, untouched by rich: no wrapping, no markup."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_error(message: str, hint: str = "") -> None:
    sys.stderr.write(f"gpusetup: error: {message}\n")
    if hint:
        sys.stderr.write(f"  hint: {hint}\n")
    sys.stderr.flush()
