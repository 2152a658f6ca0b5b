"""doctor's errors as one line: why a GPU runtime verify could not start is unusable, and the fix."""

from __future__ import annotations

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Severity
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.collect import collect_facts
from gpusetup.profiles.load import load_profiles


def doctor_errors_hint(python: str, timeout: float) -> str:
    """The first doctor errors for the target (its probe, a child like the others, within timeout)."""
    facts = collect_facts(python, probe_timeout=timeout)
    findings = run_checks(Context(facts, load_profiles()))
    errors = [f for f in findings if f.severity == Severity.ERROR][:3]
    return "; ".join(f"[{f.id}] {f.title} — fix: {f.fix}" for f in errors)
