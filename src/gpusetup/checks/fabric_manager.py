"""The NVSwitch fabric manager against the driver: it starts only at exactly the driver's version."""

from __future__ import annotations

import re
from typing import Iterator, Optional

from gpusetup.checks.context import Context
from gpusetup.checks.finding import Finding, Severity
from gpusetup.checks.registry import check

# nv-fabricmanager's refusal, as it logs it (wording changed from "don't" to "doesn't").
_REFUSAL = re.compile(
    r"driver interface version (\S+) do(?:n|esn)[\'\u2019]t match with driver version (\S+?)\.?(?:\s|$)"
)


def _mismatch(ctx: Context) -> Optional[tuple[str, str]]:
    """(fabric manager version, driver version) when they differ, from --version or from its log."""
    fm = ctx.facts.host.fabric_manager
    logged = _REFUSAL.search(fm.log_error or "")
    if logged:
        return logged.group(1), logged.group(2)
    driver = ctx.driver_version
    if fm.version and driver is not None and fm.version.strip() != str(driver):
        return fm.version.strip(), str(driver)
    return None


@check(
    fabric_manager_version_mismatch="the fabric manager's version differs from the driver's: it refuses to start (CUDA error 802)"
)
def fabric_manager_version(ctx: Context) -> Iterator[Finding]:
    found = _mismatch(ctx)
    if found is None:
        return
    fm_version, driver = found
    branch = driver.split(".")[0]
    fm = ctx.facts.host.fabric_manager
    yield Finding(
        "fabric-manager-version-mismatch",
        Severity.ERROR,
        f"The fabric manager is {fm_version} but the driver is {driver}: it refuses to start, so CUDA "
        "fails with error 802 'system not yet initialized'",
        f"Install the fabric manager of exactly the driver's version and hold both: sudo apt install "
        f"nvidia-fabricmanager-{branch}={driver}-1 && sudo apt-mark hold nvidia-fabricmanager-{branch} "
        f"nvidia-driver-{branch} && sudo systemctl restart nvidia-fabricmanager   (RHEL: sudo dnf install "
        f"nvidia-fabric-manager-{driver}; or move the driver to {fm_version}); restarting the service "
        "alone does not help",
        {
            "fabric_manager_version": fm_version,
            "driver": driver,
            "unit_state": fm.unit_state,
            "log": fm.log_error or None,
        },
    )
