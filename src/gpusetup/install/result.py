"""install's result: the plan, the exact command, what happened, and its --json form (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from gpusetup.facts.installer_config import NetSettings
from gpusetup.facts.target import Target as PythonTarget
from gpusetup.install.installers import redact
from gpusetup.install.plan import INSTALL_SCHEMA
from gpusetup.install.resolve import Plan
from gpusetup.plumbing.codec import TextEnum


class InstallStatus(TextEnum):
    """Where an install stands when it is shown."""

    PLANNED = "planned"  # --dry-run
    ALREADY_INSTALLED = "already-installed"
    INSTALLING = "installing"  # shown before the installer runs; never the final result
    INSTALLED = "installed"  # installed and checked in the target interpreter


@dataclass(frozen=True)
class InstallResult:
    """What the plan report shows: the plan, the exact command and the settings kept and ignored;
    or, for --print and --format, only the text to print."""

    plan: Plan
    argv: List[str] = field(default_factory=list)
    settings: NetSettings = field(default_factory=NetSettings)
    python: Optional[PythonTarget] = None
    status: InstallStatus = InstallStatus.PLANNED
    changes: List[str] = field(default_factory=list)
    installed: Optional[Dict[str, str]] = None  # status installed: name -> version, as probed
    text: Optional[str] = None  # --print / --format: the command or file, nothing else

    def to_dict(self) -> Dict[str, Any]:
        plan, target = self.plan, self.python
        data: Dict[str, Any] = {
            "schema": INSTALL_SCHEMA,
            "status": self.status.value,
            "python": {"path": target.path, "reason": target.reason.value} if target else None,
            "torch": plan.torch,
            "variant": str(plan.variant),
            "index_url": plan.index_url,
            "packages": plan.packages,
            "pins": plan.pins,
            "command": [redact(a) for a in self.argv],
            "settings": {
                "kept": [
                    {"name": k.name, "value": redact(k.value), "source": k.source}
                    for k in self.settings.kept
                ],
                "ignored": [
                    {"name": i.name, "source": i.source, "adds_source": i.adds_source}
                    for i in self.settings.ignored
                ],
            },
            "reasons": plan.reasons,
            "candidates": [
                {
                    "torch": c.torch,
                    "variant": str(c.variant),
                    "accepted": c.accepted,
                    "reason": c.reason,
                }
                for c in plan.candidates
            ],
        }
        if self.installed is not None:
            data["installed"] = self.installed
        return data
