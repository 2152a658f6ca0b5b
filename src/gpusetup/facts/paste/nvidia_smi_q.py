"""nvidia-smi -q (and -q -d ...): indented "Key : Value" sections per GPU, drivers 375 to 580."""

from __future__ import annotations

import re
from typing import Callable, List, Optional, Tuple

from gpusetup.facts.model import Facts, GpuFacts, InputKind, Unstated
from gpusetup.facts.paste.clean import Line
from gpusetup.facts.paste.nvidia_smi import bus_id
from gpusetup.facts.paste.reading import Reading

_PAIR = re.compile(r"^(\s*)([A-Za-z][^:]*?)\s*:\s*(.*?)\s*$")
_GPU = re.compile(r"^\s*GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)\s*$")
_PROMPT = re.compile(r"^\s*\S*[$#>]\s*(sudo\s+)?nvidia-smi\s+(-q|-a|--query)\b")
_OTHER_REPORT = re.compile(
    r"^\s*(PyTorch version|Is debug build|CUDA used to build PyTorch|Versions of relevant libraries)\b"
)
_HEADER = re.compile(r"^(\s*)([A-Z][A-Za-z0-9 ./()-]*?)\s*$")
# Clocks Throttle Reasons (Clocks Event Reasons from driver 535) entries and NVML's bits.
_REASONS = {
    "idle": 0x1, "applications clocks setting": 0x2, "sw power cap": 0x4, "hw slowdown": 0x8,
    "sync boost": 0x10, "sw thermal slowdown": 0x20, "hw thermal slowdown": 0x40,
    "hw power brake slowdown": 0x80, "display clock setting": 0x100,
}  # fmt: skip
_FABRIC = {"completed": "completed", "in progress": "in-progress", "not started": "not-started"}


# Section headers only -q prints: a fragment pasted from inside one GPU's section starts with one.
_SECTIONS = (
    "remapped rows", "clocks event reasons", "clocks throttle reasons", "fb memory usage",
    "ecc errors", "retired pages", "ecc mode", "gpu link info", "power readings", "gpu power readings",
    "max clocks", "applications clocks", "mig mode", "fabric",
)  # fmt: skip


def _is_section(text: str) -> bool:
    header = _HEADER.match(text)
    return bool(header) and header.group(2).strip().lower() in _SECTIONS  # type: ignore[union-attr]


def looks_like(lines: List[Line]) -> bool:
    texts = [line.text for line in lines]
    return (
        any("NVSMI LOG" in t or t.strip().startswith("Attached GPUs") for t in texts)
        or (any(_GPU.match(t) for t in texts) and any("Product Name" in t for t in texts))
        or any(_is_section(t) for t in texts)
    )


def _int(value: str) -> Optional[int]:
    match = re.match(r"^(\d+)", value)
    return int(match.group(1)) if match else None


def _float(value: str) -> Optional[float]:
    match = re.match(r"^(\d+(?:\.\d+)?)", value)
    return float(match.group(1)) if match else None


def _flag(value: str) -> Optional[bool]:
    lowered = value.lower()
    return (
        True
        if lowered in ("enabled", "yes", "active")
        else False
        if lowered in ("disabled", "no", "not active")
        else None
    )


def read(lines: List[Line], facts: Facts) -> Reading:
    reading = Reading(InputKind.NVIDIA_SMI_Q)
    sections: List[Tuple[int, str]] = []
    gpu: Optional[GpuFacts] = None
    top = any("NVSMI LOG" in line.text or _GPU.match(line.text) for line in lines)
    for line in lines:
        gpu_match = _GPU.match(line.text)
        pair = _PAIR.match(line.text)
        if _OTHER_REPORT.match(line.text):
            gpu, sections, top = None, [], True  # a collect_env below the -q output: not ours
        elif "NVSMI LOG" in line.text or _PROMPT.match(line.text):
            reading.used.add(line.number)
        elif gpu_match:
            gpu = _gpu(facts, bus_id(gpu_match.group(1)))
            sections = []
            reading.used.add(line.number)
        elif pair and pair.group(3):
            if gpu is None and not top and _fragment_start(lines, line):
                gpu = _gpu(facts, "")
                reading.missing.append(
                    "nvidia-smi -q: the paste starts inside a GPU's section (its bus id is not in it)"
                )
            indent = len(pair.group(1))
            sections = [s for s in sections if s[0] < indent]
            path = "/".join([s[1].lower() for s in sections] + [pair.group(2).lower()])
            if _apply(path, pair.group(3), facts, gpu):
                reading.used.add(line.number)
        elif _HEADER.match(line.text) and (
            gpu is not None or reading.used or _is_section(line.text)
        ):
            header = _HEADER.match(line.text)
            indent = len(header.group(1))  # type: ignore[union-attr]
            sections = [s for s in sections if s[0] < indent] + [(indent, header.group(2))]  # type: ignore[union-attr]
            reading.used.add(line.number)
    if reading.used:
        _left_unknown(reading, facts)
    return reading


def _left_unknown(reading: Reading, facts: Facts) -> None:
    """What a -q paste does not say (no torch, host or libraries; a -d filter drops sections)."""
    facts.driver.nvml = "ok"
    reading.unstated |= {
        Unstated.TORCH, Unstated.HOST, Unstated.LIBRARIES, Unstated.TOOLKIT, Unstated.PACKAGES,
    }  # fmt: skip
    if not any(g.compute_capability for g in facts.gpus):
        reading.unstated.add(Unstated.GPU_ARCH)
    if facts.driver.version is None:
        reading.unstated.add(Unstated.DRIVER)
    if facts.gpus and all(
        g.remapped_rows_pending is None and g.ecc_enabled is None for g in facts.gpus
    ):
        reading.missing.append(
            "nvidia-smi -q: no ECC or remapped-row section (a -d filter or a cut paste)"
        )


def _fragment_start(lines: List[Line], line: Line) -> bool:
    """An indented pair before any GPU header, with a -q section header near it: a cut-out GPU section."""
    if not line.text.startswith(" "):
        return False
    near = [other for other in lines if abs(other.number - line.number) <= 6]
    return any(_is_section(other.text) for other in near)


def _gpu(facts: Facts, bus: str) -> GpuFacts:
    for gpu in facts.gpus:
        if bus and gpu.pci_bus_id == bus:
            return gpu
    gpu = GpuFacts(index=len(facts.gpus), pci_bus_id=bus)
    facts.gpus.append(gpu)
    return gpu


def _apply(path: str, value: str, facts: Facts, gpu: Optional[GpuFacts]) -> bool:
    """Set the fact a path names; False for a path doctor has no use for."""
    if gpu is None:
        stated = re.match(r"^\d+\.\d+", value) is not None  # "Not Found" on a vGPU host: unknown
        if path == "driver version" and stated:
            facts.driver.version = value
        elif path == "cuda version" and stated:
            facts.driver.cuda_version = value
        return path in ("driver version", "cuda version", "timestamp", "attached gpus")
    for suffix, setter in _SETTERS:
        if path == suffix or path.endswith("/" + suffix):
            setter(gpu, value)
            return True
    if "reasons/" in path:
        bit = _REASONS.get(path.rsplit("/", 1)[1].strip())
        if bit is not None and _flag(value) is not None:
            gpu.clocks_event_reasons = (gpu.clocks_event_reasons or 0) | (
                bit if _flag(value) else 0
            )
        return bit is not None
    return "/" in path or bool(value)


def _set(name: str, convert: Callable[[str], object]) -> Callable[[GpuFacts, str], None]:
    def setter(gpu: GpuFacts, value: str) -> None:
        if value not in ("N/A", "[N/A]", "[Not Supported]", "Not Supported", "[Unknown Error]"):
            setattr(gpu, name, convert(value))

    return setter


def _compute_mode(value: str) -> str:
    return {"exclusive_process": "exclusive-process", "exclusive_thread": "exclusive-thread"}.get(
        value.lower(), value.lower()
    )


_SETTERS: List[Tuple[str, Callable[[GpuFacts, str], None]]] = [
    ("product name", _set("name", str)),
    ("product brand", _set("brand", str)),
    ("gpu uuid", _set("uuid", str)),
    ("persistence mode", _set("persistence_mode", _flag)),
    ("compute mode", _set("compute_mode", _compute_mode)),
    ("mig mode/current", _set("mig_enabled", _flag)),
    ("mig mode/pending", _set("mig_pending", _flag)),
    ("ecc mode/current", _set("ecc_enabled", _flag)),
    ("ecc mode/pending", _set("ecc_pending", _flag)),
    ("ecc errors/volatile/double bit/total", _set("ecc_uncorrected_volatile", _int)),
    ("ecc errors/aggregate/double bit/total", _set("ecc_uncorrected_aggregate", _int)),
    ("ecc errors/volatile/dram uncorrectable", _set("ecc_uncorrected_volatile", _int)),
    ("ecc errors/aggregate/dram uncorrectable", _set("ecc_uncorrected_aggregate", _int)),
    ("retired pages/double bit ecc", _set("retired_pages_dbe", _int)),
    ("retired pages/pending page blacklist", _set("retired_pages_pending", _flag)),
    ("retired pages/pending", _set("retired_pages_pending", _flag)),
    ("remapped rows/uncorrectable error", _set("remapped_rows_uncorrectable", _int)),
    ("remapped rows/pending", _set("remapped_rows_pending", _flag)),
    ("remapped rows/remapping failure occurred", _set("remapped_rows_failure", _flag)),
    ("pcie generation/max", _set("pcie_gen_max", _int)),
    ("pcie generation/current", _set("pcie_gen_current", _int)),
    ("link width/max", _set("pcie_width_max", _int)),
    ("link width/current", _set("pcie_width_current", _int)),
    ("temperature/gpu current temp", _set("temperature_c", _int)),
    ("temperature/gpu slowdown temp", _set("temperature_slowdown_c", _int)),
    ("power draw", _set("power_draw_w", _float)),
    ("enforced power limit", _set("power_limit_w", _float)),
    ("default power limit", _set("power_default_limit_w", _float)),
    ("max clocks/sm", _set("sm_clock_max_mhz", _int)),
    ("fb memory usage/total", _set("memory_total_mib", _int)),
    ("fb memory usage/used", _set("memory_used_mib", _int)),
    ("fabric/state", _set("fabric_state", lambda v: _FABRIC.get(v.lower(), "not-supported"))),
    ("clocks/sm", _set("sm_clock_mhz", _int)),
]
