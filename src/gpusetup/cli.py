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
needs (no GPU, no torch) · 4 internal error (the traceback only with --debug) · 129 SIGHUP, 130 Ctrl-C,
143 SIGTERM · 141 the reader of stdout went away (| head), quietly, as git does."""

# Each command's help ends with a few commands to copy (\b: click keeps the lines as they are).
EXAMPLES = {
    "doctor": """gpusetup doctor                     # this machine, the active Python
gpusetup doctor --python .venv/bin/python --json
gpusetup doctor --strict --expect-gpus 8  # CI: warnings fail too
gpusetup doctor --facts report.json       # replay a report or a paste""",
    "install": """gpusetup install --dry-run          # the plan; nothing changes
gpusetup install                    # torch, torchvision, torchaudio
gpusetup install --torch 2.4.1 --cuda 12.2 --python .venv/bin/python
gpusetup install --print --driver 550.54.15 --arch sm_90""",
    "verify": """gpusetup verify                     # every GPU, quick sizes
gpusetup verify --device 0,2 --full --junit verify.xml
gpusetup verify --device cpu --json  # the CPU path (CI without a GPU)
torchrun --nproc-per-node 8 -m gpusetup verify --collectives""",
    "report": """gpusetup report node1.json node2.json
gpusetup report reports/*.json --json""",
    "profiles": """gpusetup profiles list
gpusetup profiles show 2.4.1
gpusetup profiles validate ./my-profiles""",
}


def _epilog(name: str) -> str:
    return (
        "\b\nExamples:\n"
        + "\n".join(f"  {line}" for line in EXAMPLES[name].splitlines())
        + ("\n\n" + EXIT_CODES)
    )


app = typer.Typer(
    name="gpusetup",
    help="See, fix, install and verify the NVIDIA GPU + CUDA + PyTorch stack.\n\n" + EXIT_CODES,
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def data_date() -> str:
    """The profile data's date: the newest torch release it knows (what a stale install lacks)."""
    from gpusetup.profiles.load import load_profiles

    dates = [r.released for r in load_profiles().releases.values() if r.released]
    return max(dates) if dates else "unknown"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gpusetup {__version__} (profile data: torch releases to {data_date()})")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    STATE.debug = debug


app.command(epilog=_epilog("doctor"))(doctor)
app.command(epilog=_epilog("install"))(install)
app.command(epilog=_epilog("verify"))(verify)
app.command(epilog=_epilog("report"))(report)
app.add_typer(profiles_app, name="profiles", epilog=_epilog("profiles"))
for _info in profiles_app.registered_commands:  # its commands show the same examples
    _info.epilog = _info.epilog or _epilog("profiles")


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
