"""The NVSwitch fabric manager against the driver: it starts only at exactly the driver's version."""

from __future__ import annotations

import re
from typing import Iterator, Optional

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check

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


@check(fabric_manager_failed="the fabric manager service on an NVSwitch system is not running")
def fabric_manager_state(ctx: Context) -> Iterator[Finding]:
    fm, host = ctx.facts.host.fabric_manager, ctx.facts.host
    stopped = fm.unit_state == "failed" or (fm.unit_state == "inactive" and host.nvswitch_count > 0)
    if not stopped or _mismatch(ctx) is not None:
        return  # fabric-manager-version-mismatch names the cause and the fix
    driver = ctx.driver_version
    branch = driver.branch if driver else "<driver branch>"
    yield Finding(
        "fabric-manager-failed",
        Severity.ERROR,
        f"The nvidia-fabricmanager service is {fm.unit_state}: on NVSwitch systems CUDA then fails with "
        "error 802 'system not yet initialized'",
        "Read why it stopped: sudo journalctl -u nvidia-fabricmanager -n 50; it must be the driver's exact "
        f"version (sudo apt install nvidia-fabricmanager-{branch}={driver or '<driver version>'}-1), then: "
        "sudo systemctl enable --now nvidia-fabricmanager",
        {
            "unit_state": fm.unit_state,
            "version": fm.version,
            "nvswitches": host.nvswitch_count,
            "log": fm.log_error or None,
        },
    )
