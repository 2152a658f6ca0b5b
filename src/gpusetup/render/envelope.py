"""The one JSON envelope every --json output shares: its schema, the exit code and, on failure, the error.

A consumer reads `schema` to know the shape, `exit_code` to know the outcome without the process
status, and `error` (message + hint) when the command could not give its result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ErrorInfo:
    """A failure as the envelope carries it: the one-line message and the hint printed on stderr."""

    message: str
    hint: str = ""

    def to_dict(self) -> Dict[str, str]:
        return {"message": self.message, "hint": self.hint}


def schema_name(command: str) -> str:
    """gpusetup.<command>/1: the name a consumer dispatches on."""
    return f"gpusetup.{command}/{SCHEMA_VERSION}"


def envelope(
    command: str,
    body: Optional[Mapping[str, Any]],
    exit_code: int,
    error: Optional[ErrorInfo] = None,
) -> Dict[str, Any]:
    """The document printed on stdout: the command's result (if it got one), then the exit code the
    process ends with and the error that ended it; keys of the result keep their order."""
    document: Dict[str, Any] = {"schema": schema_name(command)}
    document.update(body or {})
    document["exit_code"] = int(exit_code)
    if error is not None:
        document["error"] = error.to_dict()
    return document
