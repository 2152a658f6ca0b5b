"""The nvidia-smi table (drivers 375 to 580: old, MIG-column and wide layouts; Linux and Windows)."""

from __future__ import annotations

import re
from typing import List, Optional

from gpusetup.facts.model import Facts, GpuFacts, GpuProcess, InputKind, Unstated
from gpusetup.facts.paste.clean import Line
from gpusetup.facts.paste.reading import Reading
from gpusetup.facts.status import NvmlStatus

_HEADER = re.compile(
    r"NVIDIA-SMI\s+(\S+)\s+Driver Version:\s*(\S+)(?:\s+CUDA Version:\s*(\S+))?", re.IGNORECASE
)
_ROW1 = re.compile(
    r"^\|\s*(\d+)\s+(.+?)\s+(On|Off|WDDM|TCC)\s*\|\s*([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)"
    r"\s+(On|Off)\s*\|\s*(.*?)\s*\|"
)
_ROW2 = re.compile(
    r"^\|\s*(\S+)\s+(\d+|N/A)C?\s+(P\d+|N/A)\s+(.*?)\|\s*(\d+)MiB\s*/\s*(\d+)MiB\s*\|"
    r"\s*(\S+)\s+(Default|E\. Process|E\. Thread|Prohibited|N/A)\s*\|"
)
_ROW3 = re.compile(r"^\|\s*\|\s*\|\s*(N/A|Enabled|Disabled)\s*\|$")
_PROC = re.compile(
    r"^\|\s*(\d+)\s+(?:(?:N/A|\d+)\s+(?:N/A|\d+)\s+)?(\d+)\s+(C|G|C\+G|M|M\+C)\s+(.+?)\s+(\d+)MiB\s*\|"
)
_FRAME = re.compile(r"^\s*[+|][-=+| ]*[+|]?\s*$")
_LABELS = ("GPU  Name", "Fan  Temp", "MIG M.", "Processes:", "GPU   GI", "ID   ID", "No running")
_PROMPT = re.compile(r"^\s*(\S*[$#>]\s*)?(sudo\s+)?nvidia-smi( returns)?:?\s*$")
_DATE = re.compile(r"^\s*(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d+ [\d:]+ \d{4}\s*$")
_COMPUTE = {"Default": "default", "E. Process": "exclusive-process", "Prohibited": "prohibited"}


def looks_like(lines: List[Line]) -> bool:
    return any(_HEADER.search(line.text) or _processes_title(line.text) for line in lines)


def _processes_title(text: str) -> bool:
    return bool(re.match(r"^\s*\|\s*Processes:\s*\|\s*$", text))


def bus_id(text: str) -> str:
    """NVML's form: an 8-digit domain, upper case (old drivers print 0000:01:00.0)."""
    domain, rest = text.split(":", 1)
    return f"{int(domain, 16):08X}:{rest.upper()}"


def _number(text: str) -> Optional[float]:
    match = re.match(r"^\s*(\d+(?:\.\d+)?)W", text)
    return float(match.group(1)) if match else None


def read(lines: List[Line], facts: Facts) -> Reading:
    reading = Reading(InputKind.NVIDIA_SMI)
    gpu: Optional[GpuFacts] = None
    header = False
    for line in lines:
        text = line.text.strip()
        match = _HEADER.search(text)
        if match:
            header = True
            facts.driver.version, facts.driver.cuda_version = match.group(2), match.group(3)
            facts.driver.nvml = NvmlStatus.OK
        elif _processes_title(text) and not header:  # a paste of the process table alone
            header, facts.driver.nvml = True, NvmlStatus.OK  # nvidia-smi printed it: NVML worked
            reading.missing.append("nvidia-smi: only the process table is in the paste")
        elif not header:
            continue
        elif _ROW1.match(text):
            gpu = _row1(_ROW1.match(text), facts)  # type: ignore[arg-type]
        elif _ROW2.match(text) and gpu is not None:
            _row2(_ROW2.match(text), gpu)  # type: ignore[arg-type]
        elif _ROW3.match(text) and gpu is not None:
            state = _ROW3.match(text).group(1)  # type: ignore[union-attr]
            gpu.mig_enabled = {"Enabled": True, "Disabled": False}.get(state)
        elif _PROC.match(text):
            _process(_PROC.match(text), facts)  # type: ignore[arg-type]
        elif not (_FRAME.match(text) or any(label in text for label in _LABELS)) and not (
            _PROMPT.match(text) or _DATE.match(text)
        ):
            continue
        reading.used.add(line.number)
    for line in lines:  # a prompt, timestamp or border above the header belongs to the table
        if reading.used and (
            _PROMPT.match(line.text) or _DATE.match(line.text) or _FRAME.match(line.text)
        ):
            reading.used.add(line.number)
    if header:
        _check_complete(lines, reading, facts)
    reading.unstated |= {
        Unstated.TORCH, Unstated.HOST, Unstated.LIBRARIES, Unstated.TOOLKIT, Unstated.PACKAGES,
        Unstated.GPU_ARCH, Unstated.GPU_HEALTH,
    }  # fmt: skip
    if facts.driver.version is None:
        reading.unstated.add(Unstated.DRIVER)
    return reading


def _row1(match: re.Match[str], facts: Facts) -> GpuFacts:
    index = int(match.group(1))
    existing = next((g for g in facts.gpus if g.index == index), None)
    gpu = existing or GpuFacts(index=index)
    if existing is None:
        facts.gpus.append(gpu)
    gpu.name = gpu.name or match.group(2).strip()
    if match.group(3) in ("On", "Off"):
        gpu.persistence_mode = match.group(3) == "On"
    gpu.pci_bus_id = bus_id(match.group(4))
    ecc = match.group(6).strip()
    if ecc.isdigit():
        gpu.ecc_enabled, gpu.ecc_uncorrected_volatile = True, int(ecc)
    elif ecc == "Off":
        gpu.ecc_enabled = False
    return gpu


def _row2(match: re.Match[str], gpu: GpuFacts) -> None:
    if match.group(2).isdigit():
        gpu.temperature_c = int(match.group(2))
    draw, _, cap = match.group(4).partition("/")
    gpu.power_draw_w, gpu.power_limit_w = _number(draw), _number(cap)
    gpu.memory_used_mib, gpu.memory_total_mib = int(match.group(5)), int(match.group(6))
    gpu.compute_mode = _COMPUTE.get(match.group(8), gpu.compute_mode)
    if match.group(8) == "E. Thread":
        gpu.compute_mode = "exclusive-thread"


def _process(match: re.Match[str], facts: Facts) -> None:
    index = int(match.group(1))
    gpu = next((g for g in facts.gpus if g.index == index), None)
    if gpu is None:  # the process table alone: the GPU is known by its index only
        gpu = GpuFacts(index=index)
        facts.gpus.append(gpu)
    gpu.processes.append(
        GpuProcess(pid=int(match.group(2)), used_mib=int(match.group(5)), name=match.group(4))
    )


def _check_complete(lines: List[Line], reading: Reading, facts: Facts) -> None:
    if not facts.gpus:
        reading.missing.append("nvidia-smi: the table ends before its first GPU row")
    elif facts.driver.version is None:
        return
    elif any(g.memory_total_mib is None for g in facts.gpus):
        cut = [str(g.index) for g in facts.gpus if g.memory_total_mib is None]
        reading.missing.append(f"nvidia-smi: the table is cut inside GPU {', '.join(cut)}")
    if facts.gpus and not any("Processes:" in line.text for line in lines):
        reading.missing.append("nvidia-smi: the process table is not in the paste")
    truncated = [g.index for g in facts.gpus if g.name.endswith("...")]
    if truncated:
        reading.missing.append(
            "nvidia-smi: the table cuts GPU names (nvidia-smi -L prints them whole)"
        )
