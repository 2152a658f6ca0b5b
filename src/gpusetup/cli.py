"""The gpusetup command line: the root Typer app and its commands."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from gpusetup import __version__
from gpusetup.commands.doctor import doctor
from gpusetup.commands.edge import STATE, run_app
from gpusetup.commands.install import install
from gpusetup.commands.profiles import app as profiles_app
from gpusetup.commands.report import report
from gpusetup.commands.verify import verify

EXIT_CODES = """Exit codes (every command): 0 ok · 1 problems found (errors, or warnings with
--strict; a failed verify or install) · 2 bad usage or input · 3 the machine lacks what the command
needs (no GPU, no torch) · 4 internal error (the traceback only with --debug) · 130 Ctrl-C, 143 SIGTERM
· 141 the reader of stdout went away (| head), quietly, as git does."""

app = typer.Typer(
    name="gpusetup",
    help="See, fix, install and verify the NVIDIA GPU + CUDA + PyTorch stack.\n\n" + EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gpusetup {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    STATE.debug = debug


app.command(epilog=EXIT_CODES)(doctor)
app.command(epilog=EXIT_CODES)(install)
app.command(epilog=EXIT_CODES)(verify)
app.command(epilog=EXIT_CODES)(report)
app.add_typer(profiles_app, name="profiles")


def _writable(stream: object) -> bool:
    try:
        os.write(stream.fileno(), b"")  # type: ignore[attr-defined]
        return True
    except (OSError, ValueError, AttributeError):
        return False


def main() -> None:
    if not _writable(sys.stderr):  # started with stderr closed (2>&-): messages go nowhere,
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - and the exit codes still hold
    run_app(app, "gpusetup")
