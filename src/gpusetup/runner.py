"""The only module that changes the machine: it runs the installer the plan names."""

from __future__ import annotations

from typing import Sequence

from gpusetup.errors import CommandFailed
from gpusetup.facts import process


def run_installer(argv: Sequence[str]) -> None:
    """Run argv (a list, never a shell line) with its output on the user's terminal."""
    try:
        code = process.run_streaming(argv)
    except FileNotFoundError as err:
        raise CommandFailed(str(err), "is the installer on PATH?") from None
    if code != 0:
        raise CommandFailed(
            f"{argv[0]} {' '.join(argv[1:4])} ... exited with code {code}", "see its output above"
        )
