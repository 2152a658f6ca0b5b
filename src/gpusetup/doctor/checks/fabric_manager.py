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
# The same line cut short (a stored thread, a narrow terminal): it is only ever logged on a mismatch.
_REFUSAL_START = re.compile(r"driver interface version (\d+(?:\.\d+){1,3}) do")
_RPM_DISTROS = ("red hat", "rhel", "centos", "rocky", "alma", "fedora", "oracle", "amazon")
_DEB_DISTROS = ("ubuntu", "debian")


def mismatch(ctx: Context) -> Optional[tuple[str, str]]:
    """(fabric manager version, driver version) when they differ, from its log or from --version."""
    fm = ctx.facts.host.fabric_manager
    logged = _REFUSAL.search(fm.log_error or "")
    if logged:
        return logged.group(1), logged.group(2)  # its own words: it refused to start
    driver = ctx.driver_version
    if not fm.version or driver is None or fm.version.strip() == str(driver):
        return None
    if fm.unit_state == "inactive" and not fabric_evidence(ctx):
        return None  # an idle fabric manager on a machine without NVSwitch harms nothing
    return fm.version.strip(), str(driver)


def refused_driver_unknown(ctx: Context) -> Optional[str]:
    """The fabric manager's version where its refusal is logged but the driver's version is not known."""
    if ctx.driver_version is not None:
        return None
    started = _REFUSAL_START.search(ctx.facts.host.fabric_manager.log_error or "")
    return started.group(1) if started else None


def fabric_evidence(ctx: Context) -> bool:
    """Some sign this machine needs the fabric manager: NVSwitches, SXM GPUs, a fabric state, error 802."""
    torch = ctx.facts.torch
    return (
        ctx.facts.host.nvswitch_count > 0
        or any("sxm" in g.name.lower() for g in ctx.gpus)
        or any(g.fabric_state in ("not-started", "in-progress", "completed") for g in ctx.gpus)
        or any(
            "802" in m or "not yet initialized" in m
            for m in [torch.init_error, *torch.init_warnings]
        )
    )


def fabric_finding_id(ctx: Context) -> Optional[str]:
    """The fabric-manager finding these facts fire, for cuda-init-failed to point at (None: none)."""
    fm = ctx.facts.host.fabric_manager
    if mismatch(ctx) is not None or refused_driver_unknown(ctx) is not None:
        return "fabric-manager-version-mismatch"
    if fm.unit_state == "failed" or (fm.unit_state == "inactive" and fabric_evidence(ctx)):
        return "fabric-manager-failed"
    if any(g.fabric_state in ("not-started", "in-progress") for g in ctx.gpus):
        return "fabric-manager-inactive"
    return None


def _pinned_install(distro: str, branch: str, driver: str, then: str) -> str:
    """Install exactly the driver's version, hold it and run `then`, with the distro's own package
    manager; both chains, whole, where the distro is not known."""
    apt = (
        f"sudo apt-get install -y nvidia-fabricmanager-{branch}={driver}-1 && "
        f"sudo apt-mark hold nvidia-fabricmanager-{branch} && {then}"
    )
    dnf = (
        f"sudo dnf install -y nvidia-fabric-manager-{driver}-1 && "
        f"sudo dnf versionlock add nvidia-fabric-manager && {then}"
    )
    lowered = distro.lower()
    if any(d in lowered for d in _RPM_DISTROS):
        return dnf
    if any(d in lowered for d in _DEB_DISTROS):
        return apt
    return f"{apt}   (RHEL/Rocky: {dnf})"


@check(
    fabric_manager_version_mismatch="the fabric manager's version differs from the driver's: it refuses to start (CUDA error 802)"
)
def fabric_manager_version(ctx: Context) -> Iterator[Finding]:
    found = mismatch(ctx)
    if found is None:
        cut = refused_driver_unknown(ctx)
        if cut is not None:
            yield _refused_against_an_unknown_driver(ctx, cut)
        return
    fm_version, driver = found
    branch = driver.split(".")[0]
    fm = ctx.facts.host.fabric_manager
    yield Finding(
        "fabric-manager-version-mismatch",
        Severity.ERROR,
        f"The fabric manager is {fm_version} but the driver is {driver}: it refuses to start, so CUDA "
        "fails with error 802 'system not yet initialized'",
        f"Install the fabric manager of exactly the driver's version {driver} and pin it: "
        + _pinned_install(
            ctx.facts.host.distro, branch, driver, "sudo systemctl restart nvidia-fabricmanager"
        )
        + f"   (or move the driver to {fm_version}); restarting the service alone does not help",
        {
            "fabric_manager_version": fm_version,
            "driver": driver,
            "unit_state": fm.unit_state,
            "log": fm.log_error or None,
        },
    )


def _refused_against_an_unknown_driver(ctx: Context, fm_version: str) -> Finding:
    """Its refusal names only its own version (the line is cut): the driver's is read on the host."""
    fm = ctx.facts.host.fabric_manager
    return Finding(
        "fabric-manager-version-mismatch",
        Severity.ERROR,
        f"The fabric manager {fm_version} refused to start: its log says the driver's version differs "
        "(the line is cut before the driver's version), so CUDA fails with error 802",
        "Read the driver's version (nvidia-smi --query-gpu=driver_version --format=csv,noheader), then "
        "install the fabric manager of exactly that version and pin it: "
        + _pinned_install(
            ctx.facts.host.distro,
            "<branch>",
            "<driver version>",
            "sudo systemctl restart nvidia-fabricmanager",
        )
        + "; restarting the service alone does not help",
        {
            "fabric_manager_version": fm_version,
            "driver": None,
            "unit_state": fm.unit_state,
            "log": fm.log_error or None,
        },
    )


@check(fabric_manager_failed="the fabric manager service on an NVSwitch system is not running")
def fabric_manager_state(ctx: Context) -> Iterator[Finding]:
    fm, host = ctx.facts.host.fabric_manager, ctx.facts.host
    if fabric_finding_id(ctx) != "fabric-manager-failed":
        return  # not stopped, or fabric-manager-version-mismatch names the cause and the fix
    driver = ctx.driver_version
    branch = str(driver.branch) if driver else "<driver branch>"
    version = str(driver) if driver else "<driver version>"
    yield Finding(
        "fabric-manager-failed",
        Severity.ERROR,
        f"The nvidia-fabricmanager service is {fm.unit_state}: on NVSwitch systems CUDA then fails with "
        "error 802 'system not yet initialized'",
        "Read why it stopped: sudo journalctl -u nvidia-fabricmanager -n 50; it must be the driver's "
        "exact version: "
        + _pinned_install(
            host.distro, branch, version, "sudo systemctl enable --now nvidia-fabricmanager"
        ),
        {
            "unit_state": fm.unit_state,
            "version": fm.version,
            "nvswitches": host.nvswitch_count,
            "log": fm.log_error or None,
        },
    )
