"""The GPUs as torch's CUDA sees them: initialisation, CUDA_VISIBLE_DEVICES, numbering, missing ones."""

from __future__ import annotations

from typing import Iterator

from gpusetup.doctor.checks.container_caps import capabilities_lack_compute
from gpusetup.doctor.checks.fabric_manager import fabric_finding_id
from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding, Severity
from gpusetup.doctor.registry import check
from gpusetup.rules.pytorch import parse_visible_devices, visible_nvml_indices

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@check(cuda_init_failed="torch has CUDA but cannot initialise it")
def cuda_init(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.cuda_build or not ctx.has_nvidia_gpu:
        return
    if torch.cuda_available and not torch.init_error:
        return
    message = torch.init_error or next((w for w in torch.init_warnings if "CUDA" in w), "")
    fix = "Fix the findings above first; if none apply: nvidia-smi must work, then check CUDA_VISIBLE_DEVICES"
    if "unknown error" in message.lower():
        fix = (
            "After suspend/resume the UVM module is often wedged: sudo rmmod nvidia_uvm && "
            "sudo modprobe nvidia_uvm (or reboot)"
        )
    elif "802" in message or "not yet initialized" in message:
        fabric = fabric_finding_id(ctx)
        fix = (
            f"Error 802 is the NVSwitch fabric manager not running: see {fabric}, whose fix applies"
            if fabric
            else "The NVSwitch fabric manager is not running: it must be installed at exactly the "
            "driver's version (nv-fabricmanager --version against nvidia-smi), then: sudo systemctl "
            "enable --now nvidia-fabricmanager; its refusal is in: journalctl -u nvidia-fabricmanager"
        )
    elif "found no nvidia driver" in message.lower() and capabilities_lack_compute(ctx):
        fix = "libcuda is not mounted into the container: see driver-capabilities-no-compute"
    elif "804" in message or "forward compatibility" in message:
        fix = "A forward-compatibility libcuda on a GPU that does not support it: see cuda-compat-libs"
    yield Finding(
        "cuda-init-failed",
        ERROR,
        "torch.cuda.is_available() is False: "
        + (message.splitlines()[0][:160] if message else "CUDA did not initialise"),
        fix,
        {
            "init_error": torch.init_error,
            "warnings": torch.init_warnings[:3],
            "device_count": torch.device_count,
        },
    )


def _visible_devices_fix(by_script: bool, shell_fix: str) -> str:
    """Where the script or command sets the variable, unsetting it in the shell changes nothing."""
    if not by_script:
        return shell_fix
    return (
        "Your script or command sets CUDA_VISIBLE_DEVICES itself (os.environ['CUDA_VISIBLE_DEVICES'] "
        "= ..., export in the launcher, docker -e): change that assignment to valid GPUs (indices or "
        "UUIDs from nvidia-smi -L), " + _BEFORE_TORCH
    )


# torch 1.12 initialised CUDA inside `import torch` (pytorch#80876): a later assignment does nothing.
_BEFORE_TORCH = (
    "set before `import torch` (or on the command line: CUDA_VISIBLE_DEVICES=1 python train.py); "
    "set after it, the value may never take effect"
)


@check(cuda_visible_devices="CUDA_VISIBLE_DEVICES hides all or some GPUs")
def visible_devices(ctx: Context) -> Iterator[Finding]:
    host = ctx.facts.host
    value = host.env.get("CUDA_VISIBLE_DEVICES")
    if value is None or (not ctx.gpus and parse_visible_devices(value) != []):
        return  # without the GPUs (a paste of errors), only a value that hides any count is judged
    by_script = "CUDA_VISIBLE_DEVICES" in host.env_set_by_script
    result = visible_nvml_indices(value, [g.uuid for g in ctx.gpus])
    evidence = {
        "CUDA_VISIBLE_DEVICES": value,
        "set_by_script": by_script,
        "visible_nvml_indices": result.visible,
        "gpus": len(ctx.gpus),
    }
    if not result.visible:
        yield Finding(
            "cuda-visible-devices",
            ERROR,
            f"CUDA_VISIBLE_DEVICES={value!r} hides every GPU: 'No CUDA GPUs are available'"
            + (f" ({result.problem})" if result.problem else ""),
            _visible_devices_fix(
                by_script,
                "unset CUDA_VISIBLE_DEVICES in the shell, or, where the script sets it "
                "(os.environ['CUDA_VISIBLE_DEVICES'] = ...), change that line to valid GPUs (by UUID "
                "from nvidia-smi -L for stability) before torch initialises CUDA",
            ),
            evidence,
        )
    elif result.problem:
        yield Finding(
            "cuda-visible-devices",
            WARNING,
            f"CUDA_VISIBLE_DEVICES={value!r} is cut short: {result.problem}",
            _visible_devices_fix(
                by_script,
                "Fix the list: only GPUs listed before the bad entry are visible (nvidia-smi -L shows "
                "the ids)",
            ),
            evidence,
        )
    elif len(result.visible) < len(ctx.gpus):
        yield Finding(
            "cuda-visible-devices",
            INFO,
            f"CUDA_VISIBLE_DEVICES={value!r} shows {len(result.visible)} of {len(ctx.gpus)} GPUs",
            "Intended? Your script or command sets it: list there every GPU the job should use, "
            + _BEFORE_TORCH
            if by_script
            else "Intended? unset CUDA_VISIBLE_DEVICES to use them all",
            evidence,
        )


@check(device_order_differs="nvidia-smi and torch number mixed GPUs differently")
def device_order(ctx: Context) -> Iterator[Finding]:
    names = {g.name for g in ctx.gpus}
    if len(names) > 1 and ctx.facts.host.env.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        yield Finding(
            "device-order-differs",
            INFO,
            "Mixed GPU models: CUDA numbers them fastest-first, nvidia-smi by PCI bus",
            "export CUDA_DEVICE_ORDER=PCI_BUS_ID   (so index N is the same GPU everywhere)",
            {"models": sorted(names)},
        )


@check(cuda_device_missing="NVML shows a GPU that CUDA should see, but torch does not")
def device_missing(ctx: Context) -> Iterator[Finding]:
    torch = ctx.facts.torch
    if not ctx.torch_ok or not torch.cuda_available or not ctx.gpus or not torch.devices:
        return
    if any(g.mig_enabled for g in ctx.gpus):
        return  # MIG instances are counted differently (mig-enabled explains it)
    visible = visible_nvml_indices(
        ctx.facts.host.env.get("CUDA_VISIBLE_DEVICES"), [g.uuid for g in ctx.gpus]
    )
    seen = torch.cuda_index_by_bus()
    if not seen:
        return
    missing = [
        g for g in ctx.gpus if g.index in visible.visible and g.pci_bus_id.upper() not in seen
    ]
    if missing:
        yield Finding(
            "cuda-device-missing",
            ERROR,
            f"torch sees {len(torch.devices)} GPU(s) but NVML shows {len(visible.visible)} it should see: "
            + ", ".join(f"GPU {g.index} {g.name} ({g.pci_bus_id})" for g in missing),
            "Check the missing GPU: nvidia-smi -q -i <index>, sudo dmesg | grep -i xid; a GPU that fails "
            "CUDA init needs a reset (sudo nvidia-smi -r -i <index>) or a reboot",
            {"missing": [g.pci_bus_id for g in missing], "torch_devices": list(seen)},
        )
