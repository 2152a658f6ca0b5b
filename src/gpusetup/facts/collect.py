"""collect_facts(): every source, each isolated so one failure never hides the others."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from gpusetup import __version__
from gpusetup.facts.host import collect_host
from gpusetup.facts.model import Facts, TorchFacts
from gpusetup.facts.nvml import collect_nvml
from gpusetup.facts.probe import DEFAULT_TIMEOUT, PendingProbe
from gpusetup.facts.services import collect_services
from gpusetup.facts.status import ProbeStatus
from gpusetup.facts.target import Target
from gpusetup.facts.toolkit import collect_toolkit


def collect_facts(
    python: Optional[str],
    *,
    run_probe: bool = True,
    probe_timeout: float = DEFAULT_TIMEOUT,
    nvml_lib: Any = None,
    target: Optional[Target] = None,
) -> Facts:
    # The probe (the target interpreter importing torch: the slow part) runs while the rest is read.
    probe = PendingProbe(python, probe_timeout) if run_probe and python else None
    try:
        driver, gpus = collect_nvml(nvml_lib)
        host, toolkit = collect_host(), collect_toolkit()
        collect_services(host)
    except BaseException:
        if probe is not None:
            probe.cancel()
        raise
    torch = probe.result() if probe is not None else TorchFacts(status=ProbeStatus.NOT_RUN)
    if target is not None:
        torch.python_reason, torch.python_reason_detail = target.reason.value, target.detail
    return Facts(
        collected_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        gpusetup_version=__version__,
        host=host,
        driver=driver,
        gpus=gpus,
        toolkit=toolkit,
        torch=torch,
    )
