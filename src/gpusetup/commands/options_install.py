"""install's own options, as typed aliases (the shared ones are in commands/options.py)."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from gpusetup.install.missing_companions import PACKAGES_HELP
from gpusetup.install.plan import OutputFormat
from gpusetup.install.request import InstallerChoice

Torch = Annotated[
    Optional[str],
    typer.Option(
        "--torch",
        metavar="VERSION",
        help="Version or range: 2.4.1, 2.1, 2.1.*, '>=2.3' [default: newest that fits].",
    ),
]
Cuda = Annotated[
    str,
    typer.Option(
        "--cuda",
        metavar="VERSION",
        help="auto, cpu, a build (12.6 or cu126), rocm6.1, or the driver's CUDA as nvidia-smi "
        "prints it (12.2: the newest build that driver runs).",
    ),
]
Packages = Annotated[Optional[str], typer.Option("--packages", metavar="LIST", help=PACKAGES_HELP)]
Installer = Annotated[
    InstallerChoice,
    typer.Option(
        "--installer",
        help="Which installer runs [auto: conda in a conda env for releases on the pytorch channel "
        "(2.0-2.5.1), else uv where installed, else pip].",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Show the plan and command; change and write nothing (refused with --constraints).",
    ),
]
PrintOnly = Annotated[
    bool,
    typer.Option(
        "--print",
        help="Print only the shell command (for eval or a Dockerfile; not with --json).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the plan as JSON (gpusetup.install/1).")]
Format = Annotated[
    Optional[OutputFormat],
    typer.Option(
        "--format",
        help="command, requirements, uv (pyproject snippet) or conda (environment.yml); not with --json.",
    ),
]
Explain = Annotated[
    bool,
    typer.Option(
        "--explain", help="List every candidate variant and why it was taken or rejected."
    ),
]
Driver = Annotated[
    Optional[str],
    typer.Option(
        "--driver",
        metavar="VERSION",
        help="Plan for this driver version instead of the detected one.",
    ),
]
Arch = Annotated[
    Optional[List[str]],
    typer.Option("--arch", metavar="SM", help="Plan for this GPU arch (sm_90; repeatable)."),
]
PythonVersion = Annotated[
    Optional[str],
    typer.Option("--python-version", metavar="VERSION", help="Plan for this Python (3.10)."),
]
Platform = Annotated[
    Optional[str],
    typer.Option(
        "--platform",
        metavar="PLATFORM",
        help="Plan for linux_x86_64, linux_aarch64, win_amd64, macos_arm64.",
    ),
]
Constraints = Annotated[
    Optional[str],
    typer.Option(
        "--constraints",
        metavar="PATH",
        help="After a verified install, write a pip constraints file pinning the family to what the target holds.",
    ),
]
Profile = Annotated[
    Optional[str],
    typer.Option("--profile", metavar="NAME", help="Use a named stack from a profile directory."),
]
