"""Output files are checked before any work starts, so a bad path never costs an install or a run."""

from __future__ import annotations

import os
from pathlib import Path

from gpusetup.errors import UsageError


def check_writable(text: str, option: str) -> Path:
    """The path, if a regular file can be written there; UsageError (exit 2) naming why otherwise."""
    if not text.strip():
        raise UsageError(f"{option}: empty path", "give a file name")
    path = Path(text)
    if path.is_dir():
        raise UsageError(f"{option} {text}: is a directory", "give a file name inside it")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{option} {text}: its directory does not exist", f"create {parent} first")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise UsageError(
                f"{option} {text}: not a regular file",
                "give the path of a regular file (a device such as /dev/full cannot hold it)",
            )
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {text}: not writable", "choose a file you can write")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {text}: {parent} is not writable", "choose another directory")
    return path
