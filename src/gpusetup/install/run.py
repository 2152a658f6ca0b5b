"""The only module that changes the machine: it runs the installer the plan names."""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional, Sequence

from gpusetup.errors import CommandFailed
from gpusetup.plumbing import process

# Settings through which pip or uv would add another index next to the PyTorch one.
_INDEX_VARIABLES = (
    "PIP_EXTRA_INDEX_URL",
    "PIP_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_INDEX_URL",
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_FIND_LINKS",
)


def installer_env(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment for pip/uv: no config files and no index variables, so --index-url is the only index.

    (A pip.conf `extra-index-url` is how a look-alike package reaches an install: torchtriton, 2022.)
    """
    env = {
        k: v
        for k, v in (os.environ if environ is None else environ).items()
        if k not in _INDEX_VARIABLES
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["UV_NO_CONFIG"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run_installer(argv: Sequence[str], to_stderr: bool = False) -> None:
    """Run argv (a list, never a shell line) with its output on the user's terminal."""
    try:
        code = process.run_streaming(argv, env=installer_env(), to_stderr=to_stderr)
    except FileNotFoundError as err:
        raise CommandFailed(str(err), "is the installer on PATH?") from None
    if code != 0:
        raise CommandFailed(
            f"{argv[0]} {' '.join(argv[1:4])} ... exited with code {code}", "see its output above"
        )
