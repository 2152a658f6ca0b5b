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
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a directory", "give a file name, e.g. verify.xml")
    parent = target.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise UsageError(f"{option} {path}: not writable")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot create a file in {parent}")
