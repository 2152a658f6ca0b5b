"""Output files are checked before any work starts, so a bad path never costs an install or a run."""

from __future__ import annotations

import os
from pathlib import Path

from gpusetup.errors import UsageError


def check_writable(text: str, option: str, regular_only: bool = True) -> Path:
    """The path, if a file can be written there (a regular one unless regular_only is False)."""
    if not text.strip():
        raise UsageError(f"{option}: empty path", "give a file name")
    if "\x00" in text:
        raise UsageError(f"{option}: the path contains a NUL byte", "give a file name")
    try:
        return _writable(Path(text), text, option, regular_only)
    except (OSError, ValueError) as err:  # a name too long for the file system, say
        why = getattr(err, "strerror", None) or str(err)
        raise UsageError(f"{option} {text[:80]}: {why}", "give a shorter file name") from None


def _writable(path: Path, text: str, option: str, regular_only: bool) -> Path:
    if path.is_dir():
        raise UsageError(f"{option} {text}: is a directory", "give a file name inside it")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{option} {text}: its directory does not exist", f"create {parent} first")
    if path.exists() or path.is_symlink():
        if regular_only and not path.is_file():
            raise UsageError(
                f"{option} {text}: not a regular file",
                "give the path of a regular file (a device such as /dev/full cannot hold it)",
            )
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {text}: not writable", "choose a file you can write")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {text}: {parent} is not writable", "choose another directory")
    return path
