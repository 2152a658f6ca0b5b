"""The fabric manager and the NVIDIA container toolkit: versions and state, only where they are installed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from gpusetup.facts.model import FabricManagerFacts, HostFacts
from gpusetup.plumbing import process

_TIMEOUT = 5.0
_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)*)")
_FM_LOG = "var/log/fabricmanager.log"
_FM_ERROR = re.compile(r"(error|don't match|doesn't match|failed)", re.IGNORECASE)


def _version_of(program: Optional[str]) -> Optional[str]:
    if not program:
        return None
    result = process.run([program, "--version"], timeout=_TIMEOUT)
    match = _VERSION.search(result.stdout + result.stderr) if result.ok else None
    return match.group(1) if match else None


def _unit_state(systemctl: Optional[str]) -> Optional[str]:
    if not systemctl:
        return None
    result = process.run(
        [systemctl, "show", "nvidia-fabricmanager", "--property=ActiveState", "--value"],
        timeout=_TIMEOUT,
    )
    state = result.stdout.strip()
    return state if result.ok and state else None


def _last_error(root: Path) -> str:
    """The last error line of the fabric manager's log (its tail only; it may be unreadable)."""
    try:
        with open(root / _FM_LOG, "rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 65536))
            tail = log.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(tail) if _FM_ERROR.search(line)), "")


def collect_services(host: HostFacts, root: str = "/", path: Optional[str] = None) -> None:
    """Fill host.fabric_manager and host.container_toolkit_version; no program, no subprocess."""
    fabric = process.which("nv-fabricmanager", path)
    if fabric or host.nvswitch_count:
        host.fabric_manager = FabricManagerFacts(
            unit_state=_unit_state(process.which("systemctl", path)),
            version=_version_of(fabric),
            log_error=_last_error(Path(root)),
        )
    toolkit = process.which("nvidia-ctk", path) or process.which("nvidia-container-cli", path)
    host.container_toolkit_version = _version_of(toolkit)
