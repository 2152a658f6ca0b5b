"""doctor's result: facts + findings + the exit code they imply (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import run_checks
from gpusetup.errors import ExitCode, UsageError
from gpusetup.facts.model import FACTS_SCHEMA, Facts
from gpusetup.plumbing.codec import (
    MAX_INPUT_BYTES,
    decode_utf8,
    from_jsonable,
    read_bytes_file,
    to_jsonable,
)
from gpusetup.profiles.model import Profiles

DOCTOR_SCHEMA = "gpusetup.doctor/1"


@dataclass(frozen=True)
class DoctorReport:
    facts: Facts
    findings: List[Finding]
    strict: bool = False

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> ExitCode:
        if self.count(Severity.ERROR) or (self.strict and self.count(Severity.WARNING)):
            return ExitCode.PROBLEMS
        return ExitCode.OK

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": DOCTOR_SCHEMA,
            "facts": to_jsonable(self.facts),
            "findings": [f.to_dict() for f in self.findings],
            "summary": {s.value: self.count(s) for s in Severity},
            "exit_code": int(self.exit_code),
        }


def diagnose(
    facts: Facts,
    profiles: Profiles,
    ignore: Sequence[str] = (),
    strict: bool = False,
    expect_gpus: Optional[int] = None,
) -> DoctorReport:
    return DoctorReport(facts, run_checks(Context(facts, profiles, expect_gpus), ignore), strict)


def load_facts_file(path: str) -> Facts:
    """Facts from a `doctor --json` report (or its `facts` part), or from a pasted report; "-" is stdin."""
    text = _read_input(path)
    if _is_json(text.lstrip()):
        return _facts_from_json(path, text)
    from gpusetup.facts.paste import read_paste

    return read_paste(text, f"--facts {path}")


def _read_input(path: str) -> str:
    import sys

    hint = "give the output of gpusetup doctor --json, collect_env or nvidia-smi"
    where = f"--facts {path}"
    if path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        if len(data) > MAX_INPUT_BYTES:
            raise UsageError(f"{where}: larger than {MAX_INPUT_BYTES // 2**20} MiB", hint)
    else:
        data = read_bytes_file(path, where, hint)
    if data.lstrip().startswith(b"{"):  # a report: strict UTF-8, as it was written
        return decode_utf8(data, where, hint)
    return data.decode("utf-8", errors="replace")  # a paste: a stray byte must not hide the rest


def _is_json(text: str) -> bool:
    """A report by content: an object, or a '[' that parses (a shell prompt '[root@host ~]#' does not)."""
    if text.startswith("{"):
        return True
    if not text.startswith("["):
        return False
    import json

    try:
        json.loads(text)
    except RecursionError:
        return True  # brackets nested past what Python parses: JSON, refused as such
    except ValueError:
        return False
    return True


def _facts_from_json(path: str, text: str) -> Facts:
    import json

    hint = "give the output of gpusetup doctor --json"
    try:
        data = json.loads(text)
    except RecursionError:
        raise UsageError(f"--facts {path}: not JSON (nested too deeply)", hint) from None
    except ValueError as err:
        raise UsageError(f"--facts {path}: not JSON ({err})", hint) from None
    if isinstance(data, dict) and data.get("schema") == DOCTOR_SCHEMA:
        data = data.get("facts")
    if not isinstance(data, dict) or data.get("schema") != FACTS_SCHEMA:
        raise UsageError(
            f"--facts {path}: not a gpusetup doctor report (schema {DOCTOR_SCHEMA} or {FACTS_SCHEMA})",
            hint,
        )
    try:
        return from_jsonable(Facts, data, "facts")
    except UsageError as err:
        raise UsageError(f"--facts {path}: {err.message}", hint) from None
