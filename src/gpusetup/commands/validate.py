"""Option checks that run before any work: numbers that must be finite and positive, writable outputs."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

from gpusetup.errors import UsageError


def positive_finite(option: str, value: float, hint: str = "") -> float:
    """A number of seconds, TFLOP/s or a fraction: nan, inf, 0 and negatives mean nothing useful."""
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{option} {value}: must be a finite number above 0", hint)
    return value


def optional_timeout(value: Optional[float]) -> Optional[float]:
    """--timeout, when given, as a finite number of seconds above 0."""
    if value is None:
        return None
    return positive_finite("--timeout", value, "give the seconds it may take, e.g. --timeout 120")


def writable_file(option: str, path: Optional[str]) -> None:
    """An output file that can be created or replaced: checked before anything runs, so no result
    is computed only to be lost. Nothing is created here."""
    if path is not None:
        check_writable(path, option, regular_only=False)  # /dev/stdout may take a JUnit report


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
