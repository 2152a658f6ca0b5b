"""A finding: one problem (or note) with its evidence and the exact fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict

from gpusetup.plumbing.codec import TextEnum


class Severity(TextEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Finding:
    id: str  # kebab-case, stable across releases
    severity: Severity
    title: str  # one line
    fix: str  # an exact command or step
    evidence: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "title": self.title,
            "evidence": self.evidence,
            "fix": self.fix,
        }
