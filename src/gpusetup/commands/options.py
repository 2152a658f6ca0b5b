"""The options several commands declare alike, as typed aliases: one declaration, one help text."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from gpusetup.facts.target import PYTHON_HELP

Python = Annotated[Optional[str], typer.Option("--python", metavar="PATH", help=PYTHON_HELP)]
Profiles = Annotated[
    Optional[List[str]],
    typer.Option("--profiles", metavar="DIR", help="Extra profile directory (repeatable)."),
]
