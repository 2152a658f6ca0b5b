"""doctor as a short Markdown diagnosis for an issue comment: likely cause, other findings, what to collect."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.report import DoctorReport
from gpusetup.facts.model import Unstated

# Findings that restate a symptom; a specific cause found beside them comes first.
_SYMPTOMS = ("cuda-init-failed", "torch-import-failed", "probe-failed", "cuda-device-missing")
_COLLECT = "not-in-report"


def _rank(finding: Finding) -> tuple[int, int, str]:
    return (finding.severity.rank, finding.id in _SYMPTOMS, finding.id)


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _evidence(evidence: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in evidence.items() if v not in (None, "", [], {})]
    return "; ".join(parts)[:300]


def _collect_lines(collect: List[Finding]) -> List[str]:
    """One line per command (several areas share `gpusetup doctor --json`), with the checks it unlocks."""
    by_command: Dict[str, Tuple[List[str], List[str]]] = {}
    order = [u.value for u in Unstated]  # the torch stack first: collect_env states the most
    for finding in sorted(collect, key=lambda f: order.index(f.evidence.get("area", "torch"))):
        command = finding.fix.replace("Collect it: ", "")
        what = finding.title.split(";")[0].replace("Not in this report: ", "")
        areas, checks = by_command.setdefault(command, ([], []))
        areas.append(what)
        checks += [c for c in finding.evidence.get("checks", []) if c not in checks]
    return [
        f"- {'; '.join(areas)}: {_code(command)}"
        + (f" (unchecked without it: {', '.join(checks)})" if checks else "")
        for command, (areas, checks) in by_command.items()
    ]


def render_markdown(report: DoctorReport) -> str:
    findings = sorted((f for f in report.findings if f.id != _COLLECT), key=_rank)
    collect = [f for f in report.findings if f.id == _COLLECT]
    facts = report.facts
    lines: List[str] = ["### gpusetup doctor", ""]
    source = " + ".join(facts.input.kinds)
    lines.append(f"Read: {source}" + (" paste" if facts.input.pasted else "") + ".")
    for note in facts.input.skipped:
        lines.append(f"Skipped: {note}")
    lines.append("")
    problems = [f for f in findings if f.severity != Severity.INFO]
    if problems:
        cause = problems[0]
        lines += [
            f"**Likely cause: `{cause.id}`** — {cause.title}",
            "",
            f"Fix: {_code(cause.fix)}",
        ]
        if cause.evidence:
            lines.append(f"Evidence: {_code(_evidence(cause.evidence))}")
        lines.append("")
    else:
        lines += ["No problem found in what the report states.", ""]
    others = [f for f in findings if not problems or f is not problems[0]]
    if others:
        lines.append("**Other findings**")
        for f in others:
            lines += [f"- {f.severity.value} `{f.id}`: {f.title}", f"  Fix: {_code(f.fix)}"]
        lines.append("")
    if collect:
        lines.append("**What to collect next**")
        lines += _collect_lines(collect)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
