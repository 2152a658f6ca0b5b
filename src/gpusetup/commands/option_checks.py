"""Option checks that run before any work: numbers that must be finite and positive, writable outputs."""

from __future__ import annotations

import math
from typing import Optional

from gpusetup.errors import UsageError
from gpusetup.plumbing.output_path import check_writable


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
