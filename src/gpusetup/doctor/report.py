"""doctor's result: facts + findings + the exit code they imply (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import run_checks
from gpusetup.errors import ExitCode, UsageError
from gpusetup.facts.model import FACTS_SCHEMA, Facts
from gpusetup.plumbing.codec import from_jsonable, read_json_file, to_jsonable
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
    """Facts from a `doctor --json` report (or its bare `facts` part), checked for shape."""
    data = read_json_file(path, "--facts", "give the output of gpusetup doctor --json")
    if isinstance(data, dict) and data.get("schema") == DOCTOR_SCHEMA:
        data = data.get("facts")
    if not isinstance(data, dict) or data.get("schema") != FACTS_SCHEMA:
        raise UsageError(
            f"--facts {path}: not a gpusetup doctor report (schema {DOCTOR_SCHEMA} or {FACTS_SCHEMA})",
            "give the output of gpusetup doctor --json",
        )
    try:
        return from_jsonable(Facts, data, "facts")
    except UsageError as err:
        raise UsageError(
            f"--facts {path}: {err.message}", "give the output of gpusetup doctor --json"
        ) from None
