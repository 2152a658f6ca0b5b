"""doctor for people: system line, GPU table, toolkit, torch stack, then findings with fixes."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from gpusetup.doctor.context import cuda_build_unknown
from gpusetup.doctor.finding import Severity
from gpusetup.doctor.report import DoctorReport
from gpusetup.facts.model import Facts, GpuFacts, TorchFacts
from gpusetup.facts.status import NumpyStatus, NvmlStatus, ProbeStatus
from gpusetup.facts.target import reason_text

NOT_IN_REPORT = "not in the report"  # a value the pasted report does not state: never a blank
UNKNOWN_SYSTEM = f"system: {NOT_IN_REPORT}"

_MARK = {
    Severity.ERROR: ("✖", "bold red"),
    Severity.WARNING: ("!", "yellow"),
    Severity.INFO: ("i", "cyan"),
}


def render_doctor(report: DoctorReport, console: Console) -> None:
    facts = report.facts
    system = _system_line(facts) or (UNKNOWN_SYSTEM if facts.input.pasted else "")
    console.print(Text("gpusetup doctor", style="bold") + Text(f"  {system}", style="dim"))
    if facts.input.pasted:
        console.print(_input_line(facts))
    console.print(_driver_line(facts))
    if facts.gpus:
        probed = facts.torch.status == ProbeStatus.OK and bool(facts.torch.devices)
        for table in _gpu_tables(facts.gpus, facts.torch.cuda_index_by_bus(), probed, console):
            console.print(table)
    if "toolkit" in facts.input.unstated:
        console.print(Text("Toolkit: not in the report", style="dim"))
    else:
        console.print(_toolkit_line(facts))
    console.print(_torch_line(facts.torch, facts.input.pasted, cuda_build_unknown(facts)))
    if facts.torch.status == ProbeStatus.OK and facts.torch.compile is not None:
        console.print(_compile_line(facts.torch))
    target = _target_line(facts.torch)
    if target is not None:
        console.print(target, soft_wrap=True)  # a path to paste: never a newline inside it
    console.print()
    if not report.findings:
        console.print(Text("✔ no problems found", style="bold green"))
    else:
        _render_findings(report, console)
    console.print()
    console.print(_summary(report))


def _render_findings(report: DoctorReport, console: Console) -> None:
    for finding in report.findings:
        mark, style = _MARK[finding.severity]
        head = Table.grid(padding=(0, 1))
        head.add_column(no_wrap=True)
        head.add_column(overflow="fold")
        head.add_row(
            Text(mark, style=style), Text(finding.id, style=style) + Text(f": {finding.title}")
        )
        console.print(head)
        console.print(Text("  fix: ", style="dim") + Text(finding.fix), soft_wrap=True)


def _system_line(facts: Facts) -> str:
    host = facts.host
    parts = [host.distro or host.os, f"kernel {host.kernel}" if host.kernel else "", host.machine]
    if host.is_wsl:
        parts.append("WSL2")
    if host.container:
        parts.append(f"{host.container} container")
    return " · ".join(p for p in parts if p)


def _input_line(facts: Facts) -> Text:
    """Which kinds of report were read, and what of the paste was not."""
    text = Text("Read: " + " + ".join(facts.input.kinds) + " paste", style="bold")
    if facts.input.unstated:
        text += Text(" · not stated: " + ", ".join(facts.input.unstated), style="dim")
    for note in facts.input.skipped:
        text += Text(f"\n  skipped: {note}", style="yellow")
    return text


def _driver_line(facts: Facts) -> Text:
    driver = facts.driver
    if driver.nvml == NvmlStatus.NOT_COLLECTED:
        version = f"Driver {driver.version}" if driver.version else "Driver: not in the report"
        return Text(version, style="" if driver.version else "dim")
    if driver.nvml == NvmlStatus.OK:
        cuda = driver.cuda_version or (NOT_IN_REPORT if facts.input.pasted else "?")
        text = f"Driver {driver.version} · supports CUDA ≤ {cuda} · {len(facts.gpus)} GPU(s)"
        return Text(text)
    module = facts.host.proc_driver_version or facts.host.nvidia_module_version
    extra = f" (kernel module {module})" if module else ""
    return Text(f"Driver: NVML unavailable: {driver.nvml}{extra}", style="red")


def _compile_line(torch: TorchFacts) -> Text:
    """What torch.compile will use: Inductor's C++ compiler, Triton's C compiler and the caches."""
    c = torch.compile
    assert c is not None
    cxx, cc = c.inductor_cxx, c.triton_cc
    parts = [f"C++ {cxx.name or 'none'}" + ("" if cxx.runs else " (does not run)")]
    if torch.cuda_build:
        parts.append(f"C {cc.name or 'none'}" + ("" if cc.runs else " (does not run)"))
        parts.append(f"triton {c.triton_version or 'not importable'}")
        parts.append(f"libcuda via {c.libcuda_via or 'nothing'}")
    parts.append(f"Python.h {'yes' if c.python_h else 'missing'}")
    shown = [x.path for x in c.caches if torch.cuda_build or x.kind == "inductor"]
    parts.append("cache " + ", ".join(shown))
    return Text("torch.compile: " + " · ".join(parts))


def _na(value: object, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"


_IDENTITY = ("#", "cuda", "name", "sm", "bus id")
_STATE = ("#", "memory MiB", "temp", "power W", "PCIe", "ECC", "MIG")
_ALL = ("#", "cuda", "name", "sm", "memory MiB", "temp", "power W", "PCIe", "ECC", "MIG", "bus id")


def _gpu_tables(
    gpus: List[GpuFacts], cuda_index: Dict[str, int], probed: bool, console: Console
) -> List[Table]:
    """One GPU table when it fits the width, else two (who the GPU is, then its state): a number
    or a name is never cut."""
    cells = [_gpu_cells(gpu, cuda_index, probed) for gpu in gpus]
    whole = _gpu_table(_ALL, cells)
    if (
        Measurement.get(console, console.options.update_width(10_000), whole).maximum
        <= console.width
    ):
        return [whole]
    return [_gpu_table(_IDENTITY, cells), _gpu_table(_STATE, cells)]


def _gpu_table(columns: Tuple[str, ...], cells: List[Dict[str, Text]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in cells:
        table.add_row(*[row.get(column, Text("")) for column in columns])
    return table


def _gpu_cells(gpu: GpuFacts, cuda_index: Dict[str, int], probed: bool) -> Dict[str, Text]:
    """NVML's numbering (#, PCI order) beside torch's (cuda, fastest first) when both were read."""
    if gpu.error:
        return {"#": Text(str(gpu.index)), "name": Text(gpu.error, style="red")}
    pcie = (
        f"Gen{_na(gpu.pcie_gen_current)}x{_na(gpu.pcie_width_current)}"
        if gpu.pcie_gen_current is not None or gpu.pcie_width_current is not None
        else "n/a"
    )
    values = {
        "#": str(gpu.index),
        "cuda": str(cuda_index.get(gpu.pci_bus_id.upper(), "-")) if probed else "",
        "name": gpu.name,
        "sm": _na(gpu.compute_capability),
        "memory MiB": f"{_na(gpu.memory_used_mib)}/{_na(gpu.memory_total_mib)}",
        "temp": _na(gpu.temperature_c, "°C"),
        "power W": f"{_na(gpu.power_draw_w)}/{_na(gpu.power_limit_w)}",
        "PCIe": pcie,
        "ECC": _flag(gpu.ecc_enabled),
        "MIG": _flag(gpu.mig_enabled),
        "bus id": gpu.pci_bus_id,
    }
    return {key: Text(value) for key, value in values.items()}


def _flag(value: Optional[bool]) -> str:
    return "n/a" if value is None else ("on" if value else "off")


def _toolkit_line(facts: Facts) -> Text:
    toolkit = facts.toolkit
    nvcc = ", ".join(f"{n.version or '?'} ({n.path})" for n in toolkit.nvcc[:2]) or "none"
    home = f"{toolkit.cuda_home} via {toolkit.cuda_home_via}" if toolkit.cuda_home else "not found"
    cudnn = toolkit.cudnn_version or "none"
    return Text(f"Toolkit: nvcc {nvcc} · CUDA_HOME {home} · system cuDNN {cudnn}")


def _torch_line(torch: TorchFacts, pasted: bool = False, build_unknown: bool = False) -> Text:
    if torch.status == ProbeStatus.NOT_RUN:
        return Text(
            "Torch: " + (NOT_IN_REPORT if pasted else "not probed (--no-probe)"), style="dim"
        )
    if torch.status != ProbeStatus.OK:
        return Text(
            f"Torch ({torch.python}): {torch.status} {torch.error[:100]}".rstrip(), style="red"
        )
    if torch.cuda_build:
        build = f"CUDA {torch.cuda_build}"
    elif torch.hip_build:
        build = "ROCm " + torch.hip_build
    else:
        build = f"build {NOT_IN_REPORT}" if pasted and build_unknown else "CPU"
    unknown = NOT_IN_REPORT if pasted else "no"
    available = (
        "yes" if torch.cuda_available else (unknown if torch.cuda_available is None else "no")
    )
    if torch.device_count is None and pasted:
        devices = f"device count {NOT_IN_REPORT}"
    else:
        devices = f"{torch.device_count or 0} device(s)"
    companions = " · ".join(
        f"{name} {state}"
        for name, state in (
            ("torchvision", _state(torch.torchvision_version, torch.torchvision_error)),
            ("torchaudio", _state(torch.torchaudio_version, torch.torchaudio_error)),
            ("numpy", _state(torch.numpy_version, torch.numpy_error, torch.numpy_status)),
        )
        if state
    )
    text = (
        f"Torch {torch.version or NOT_IN_REPORT} ({build}) · cuda available: {available}, {devices}"
    )
    missing = (
        f" · could not read: {', '.join(sorted(torch.unavailable))}" if torch.unavailable else ""
    )
    python = f" · {torch.python}" if torch.python or not pasted else ""
    return Text(text + (f" · {companions}" if companions else "") + python + missing)


def _target_line(torch: TorchFacts) -> Optional[Text]:
    """Which interpreter was probed and why (the one rule of gpusetup.facts.target)."""
    why = reason_text(torch.python_reason, torch.python_reason_detail)
    if not torch.python or not why:
        return None
    return Text(f"Python: {torch.python} ({why})")


def _state(version: Optional[str], error: str, status: Optional[NumpyStatus] = None) -> str:
    """A companion's version, else what is wrong with it ('' when it is simply not there)."""
    return version or ("broken" if error else ("missing" if status == NumpyStatus.MISSING else ""))


def _summary(report: DoctorReport) -> Text:
    counts = ", ".join(
        f"{report.count(s)} {s.value}{'s' if report.count(s) != 1 else ''}" for s in Severity
    )
    style = "bold red" if int(report.exit_code) else "bold green"
    return Text(f"{counts} → exit {int(report.exit_code)}", style=style)
