"""gpusetup profiles: validate, list and show the compatibility data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.options import Profiles
from gpusetup.errors import ProfileError, UsageError
from gpusetup.profiles.load import load_profiles, profile_dirs
from gpusetup.render.console import make_console, print_error, print_line

app = typer.Typer(help="Validate, list and show the compatibility profiles.", no_args_is_help=True)

ProfilePath = Annotated[
    Optional[str],
    typer.Argument(metavar="[PATH]", help="A profile file or directory [default: all in use]."),
]
Json = Annotated[
    bool,
    typer.Option("--json", help="Print the files and problems as JSON (gpusetup.profiles/1)."),
]
Version = Annotated[str, typer.Argument(metavar="VERSION", help="A torch release, e.g. 2.1.2.")]


@app.command("validate")
@cli_edge(command="profiles")
def validate(path: ProfilePath = None, json_out: Json = False) -> None:
    """Check profile files against the schema and each other: every file:line problem, exit 2."""
    from gpusetup.profiles.validate import validate_files

    if path is None:
        files = [f for d in profile_dirs() for f in sorted(d.glob("*.yaml"))]
    else:
        target = Path(path)
        if not target.exists():
            raise UsageError(f"{path}: no such file or directory")
        files = sorted(target.glob("*.yaml")) if target.is_dir() else [target]
    errors = validate_files(files)
    if json_out:
        emit_json({"files": [str(f) for f in files], "problems": errors})
    if errors:
        for line in errors[:-1]:
            print_error(line)
        raise ProfileError(errors[-1], f"{len(errors)} problem(s) in the profiles")
    for file in [] if json_out else files:
        print_line(f"ok {file}")


@app.command("list")
@cli_edge
def list_releases(profiles_dir: Profiles = None) -> None:
    """Every torch release with its Python range, variants and companions; then the site stacks."""
    from gpusetup.render.profiles import render_releases

    profiles = load_profiles(profiles_dir or ())
    render_releases(profiles, make_console())


@app.command("show")
@cli_edge
def show(version: Version, profiles_dir: Profiles = None) -> None:
    """One release in full: variants with their GPU architectures, companions, conda, sources."""
    from gpusetup.render.profiles import render_release

    profiles = load_profiles(profiles_dir or ())
    if version not in profiles.releases:
        raise UsageError(
            f"torch {version}: not in the profiles", "gpusetup profiles list shows the releases"
        )
    render_release(profiles, profiles.releases[version], make_console())
