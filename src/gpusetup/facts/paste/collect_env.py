"""python -m torch.utils.collect_env, as printed by torch 1.x to 2.x (and vLLM's variant), into facts."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Set, Tuple

from gpusetup.facts.model import (
    Distribution,
    Facts,
    GpuFacts,
    InputKind,
    TorchFacts,
    Unstated,
)
from gpusetup.facts.paste.clean import Line
from gpusetup.facts.paste.reading import Reading
from gpusetup.facts.status import NvmlStatus, ProbeStatus

# Every field label any generation printed, lower-cased; the value follows the first ':'.
KEYS = (
    "pytorch version", "is debug build", "cuda used to build pytorch", "rocm used to build pytorch",
    "os", "gcc version", "clang version", "cmake version", "libc version", "python version",
    "python platform", "is cuda available", "cuda runtime version", "cuda_module_loading set to",
    "gpu models and configuration", "nvidia driver version", "cudnn version", "is xpu available",
    "hip runtime version", "miopen runtime version", "is xnnpack available",
    "caching allocator config", "cpu", "versions of relevant libraries", "xpu used to build pytorch",
    "intel gpu driver version", "intel gpu models onboard", "intel gpu models detected",
)  # fmt: skip
# Labels people retype by hand, and what collect_env prints for them.
_ALIASES = {
    "version of relevant libraries": "versions of relevant libraries",
    "driver version": "nvidia driver version",
    "nvidia driver": "nvidia driver version",
}
# A value retyped as a list item ("- Driver Version: 470.57", "* CUDA version: 11.3"): the bullet goes.
_BULLET = re.compile(r"^\s*[-*+\u2022]\s+(?=[A-Za-z])")
# "CUDA version" typed by hand is ambiguous (the driver's, torch's or the toolkit's): noted, not read.
_AMBIGUOUS = ("cuda version", "cuda/cudnn version")
_NO_COLON = re.compile(r"^\s*(PyTorch version)\s+(\d\S*)\s*$", re.IGNORECASE)
_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*:\s?(.*)$")
_PKG = re.compile(r"^\s*\[(pip3?|conda)\]\s+(.*)$")
_BANNER = re.compile(r"^\s*(={5,}|-{5,})\s*$")
_FAMILY = ("torch", "pytorch", "torchvision", "torchaudio", "triton", "pytorch-triton")
_NO = ("could not collect", "none", "n/a", "no cuda", "")
# vLLM's section titles (between ===== banners) and the platform line vLLM and sglang print first.
_VLLM = re.compile(
    r"^\s*(System Info|PyTorch Info|Python Environment|CUDA / GPU Info|CPU Info|vLLM Info|"
    r"Environment Variables)\s*$|^INFO .*Automatically detected platform"
)
_NOISE = ("Collecting environment information...", "Process finished with exit code 0")


def looks_like(lines: List[Line]) -> bool:
    keys = {_key(line.text) for line in lines[:400]}
    pkgs = sum(1 for line in lines if _PKG.match(line.text))
    bullets = sum(1 for line in lines[:400] if _bulleted(line.text) and _key(line.text))
    return "pytorch version" in keys or len(keys & set(KEYS)) >= 3 or pkgs >= 2 or bullets >= 2


def _split(text: str) -> Optional[Tuple[str, str]]:
    """(label, value) of a collect_env field line, also when retyped without its colon."""
    bullet = _BULLET.match(text)
    if bullet:
        text = text[bullet.end() :]
    match = _KEY.match(text) or _NO_COLON.match(text)
    if not match:
        return None
    key = re.sub(r"\s+", " ", match.group(1).strip().lower())
    key = _ALIASES.get(key, key)
    return (key, match.group(2).strip()) if key in KEYS or key in _AMBIGUOUS else None


def _bulleted(text: str) -> bool:
    return _BULLET.match(text) is not None


def _key(text: str) -> Optional[str]:
    split = _split(text)
    return split[0] if split else None


def read(lines: List[Line], facts: Facts) -> Reading:
    """Read every collect_env field present; a value may continue on the lines below its label."""
    reading = Reading(InputKind.COLLECT_ENV)
    fields: Dict[str, List[str]] = {}
    packages: List[Tuple[str, str]] = []
    current: Optional[str] = None
    last: Optional[Tuple[Line, str]] = None  # the last value line read, and its field ("": package)
    retyped: Set[str] = set()  # fields typed as list items: not collect_env's own output
    for line in lines:
        split, pkg = _split(line.text), _PKG.match(line.text)
        if split is not None:
            current = split[0]
            fields.setdefault(current, []).append(split[1])
            reading.used.add(line.number)
            last = (line, current)
            if _bulleted(line.text):
                retyped.add(current)
        elif pkg:
            packages.append((pkg.group(1), pkg.group(2).strip()))
            reading.used.add(line.number)
            current = None
            last = (line, "")
        elif (
            current in ("gpu models and configuration", "cudnn version", "cpu")
            and line.text.strip()
        ):
            fields[current].append(line.text.strip())
            reading.used.add(line.number)
            last = (line, current)
        elif _BANNER.match(line.text) or line.text.strip() in _NOISE or _VLLM.match(line.text):
            reading.used.add(line.number)
    if not reading.used:
        return reading
    if last is not None and last[1] not in retyped and _cut(fields, lines, last[0]):
        _drop_cut_line(fields, packages, last, reading)
    for key in _AMBIGUOUS:
        for value in fields.pop(key, []):
            reading.missing.append(
                f"not read: '{key}: {value[:40]}' typed by hand (the driver's, torch's or the "
                "toolkit's CUDA?); paste nvidia-smi and collect_env instead"
            )
    _apply(fields, packages, facts, reading, retyped)
    return reading


def _cut(fields: Dict[str, List[str]], lines: List[Line], line: Line) -> bool:
    """Whether the paste ends, cut short, on this value line (before the package lists)."""
    tail = [other for other in lines if other.text.strip()]
    ended_here = bool(tail) and tail[-1].number == line.number
    truncated = "pytorch version" in fields and "versions of relevant libraries" not in fields
    return ended_here and truncated


def _drop_cut_line(
    fields: Dict[str, List[str]],
    packages: List[Tuple[str, str]],
    last: Tuple[Line, str],
    reading: Reading,
) -> None:
    """A paste cut mid-line leaves a partial value ('2.0.' for '2.0.1'): the last line is not read."""
    line, key = last
    if key:
        fields[key].pop()
        if not fields[key]:
            del fields[key]
    elif packages:
        packages.pop()
    reading.missing.append(
        f"collect_env: the paste may be cut on its last line, not read as a value: {line.text.strip()[:80]!r}"
    )


def _first(fields: Dict[str, List[str]], key: str) -> Optional[str]:
    values = fields.get(key)
    return values[0] if values else None


def _stated(value: Optional[str]) -> Optional[str]:
    return None if value is None or value.strip().lower() in _NO else value.strip()


def _yes(value: Optional[str]) -> Optional[bool]:
    text = (value or "").strip().lower()
    return True if text in ("yes", "true") else False if text in ("no", "false") else None


def _apply(
    fields: Dict[str, List[str]],
    packages: List[Tuple[str, str]],
    facts: Facts,
    reading: Reading,
    retyped: Set[str],
) -> None:
    _torch(fields, facts, reading)
    _host(fields, facts)
    _driver_and_gpus(fields, facts, reading, "nvidia driver version" in retyped)
    _toolkit(fields, facts)
    if packages:
        _packages(packages, facts)
    else:
        reading.unstated.add(Unstated.PACKAGES)
    reading.unstated |= {
        Unstated.HOST, Unstated.LIBRARIES, Unstated.GPU_HEALTH, Unstated.GPU_ARCH, Unstated.TOOLKIT,
    }  # fmt: skip
    if "pytorch version" in fields and "versions of relevant libraries" not in fields:
        last = max(fields, key=lambda k: KEYS.index(k))
        reading.missing.append(
            f"collect_env: the paste ends after '{last}'; not in it: the package lists"
            + ("" if "nvidia driver version" in fields else ", the driver and GPUs")
        )


def _torch(fields: Dict[str, List[str]], facts: Facts, reading: Reading) -> None:
    torch = facts.torch
    version = _first(fields, "pytorch version")
    if version is None:
        reading.unstated.add(Unstated.TORCH)
        return
    if _stated(version) is None:
        torch.status = ProbeStatus.IMPORT_ERROR
        torch.error = torch.error or "collect_env could not import torch (PyTorch version: N/A)"
        return
    torch.status = ProbeStatus.OK
    torch.version = version.split()[0]
    cuda = _stated(_first(fields, "cuda used to build pytorch"))
    torch.cuda_build = cuda if cuda and re.match(r"^\d+\.\d+", cuda) else None
    if (
        "cuda used to build pytorch" not in fields
        and "versions of relevant libraries" not in fields
    ):
        _build_from_tag(torch, reading)
    hip = _stated(_first(fields, "rocm used to build pytorch"))
    torch.hip_build = hip
    torch.cuda_available = _yes(_first(fields, "is cuda available"))
    python = _stated(_first(fields, "python version"))
    if python:
        torch.python_version = python.split()[0]


_CU_TAG = re.compile(r"\+cu(\d{2,3})$")


def _build_from_tag(torch: TorchFacts, reading: Reading) -> None:
    """A paste cut before "CUDA used to build PyTorch": the build from the +cuXYZ tag, else unknown."""
    version = torch.version or ""
    tag = _CU_TAG.search(version)
    if tag:
        digits = tag.group(1)
        torch.cuda_build = f"{digits[:-1]}.{digits[-1]}"
        where = f"taken from the version's +cu{digits} tag: {torch.cuda_build}"
    elif version.endswith("+cpu"):
        where = "a CPU build by the version's +cpu tag"
    else:
        where = "unknown (no +cuXYZ tag in the version)"
        # Unknown, not a CPU build: the checks read this mark (doctor.context.cuda_build_unknown).
        torch.unavailable["cuda_build"] = "the paste ends before 'CUDA used to build PyTorch'"
    reading.missing.append(
        f"collect_env: the paste ends before 'CUDA used to build PyTorch'; the CUDA build is {where}"
    )


def _host(fields: Dict[str, List[str]], facts: Facts) -> None:
    host = facts.host
    os_line = _stated(_first(fields, "os"))
    if os_line:
        match = re.match(r"^(.*?)\s*\((\w+)\)\s*$", os_line)
        host.distro, host.machine = (match.group(1), match.group(2)) if match else (os_line, "")
        lowered = os_line.lower()
        host.os = "windows" if "windows" in lowered else "darwin" if "mac" in lowered else "linux"
    platform = _stated(_first(fields, "python platform")) or ""
    kernel = re.match(r"^Linux-(.+?)-(x86_64|aarch64|ppc64le)", platform)
    if kernel:
        host.kernel = kernel.group(1)
    host.is_wsl = "microsoft" in platform.lower()
    loading = _stated(_first(fields, "cuda_module_loading set to"))
    if loading:
        host.env["CUDA_MODULE_LOADING"] = loading


def _driver_and_gpus(
    fields: Dict[str, List[str]], facts: Facts, reading: Reading, retyped: bool
) -> None:
    driver = _stated(_first(fields, "nvidia driver version"))
    if driver:
        facts.driver.version = driver
        if (
            not retyped
        ):  # collect_env read it from nvidia-smi, which needs NVML; a typed one: unknown
            facts.driver.nvml = NvmlStatus.OK
    else:
        reading.unstated.add(Unstated.DRIVER)
    if facts.gpus:
        return
    for text in fields.get("gpu models and configuration", []):
        gpu = re.match(r"^GPU (\d+): (.+?)(?: \(UUID: .*\))?$", text)
        if gpu:
            facts.gpus.append(GpuFacts(index=int(gpu.group(1)), name=gpu.group(2).strip()))
        elif text.startswith("MIG ") and facts.gpus:
            facts.gpus[-1].mig_enabled = True


def _toolkit(fields: Dict[str, List[str]], facts: Facts) -> None:
    # "CUDA runtime version" is the nvcc on PATH but not CUDA_HOME, which the toolkit checks need:
    # the toolkit stays unstated; only the system cuDNN is taken.
    for text in fields.get("cudnn version", []):
        version = re.search(r"libcudnn\.so\.(\d+\.\d+\.\d+)", text) or re.match(
            r"^(\d+\.\d+\.\d+)$", text
        )
        if version:
            facts.toolkit.cudnn_version = version.group(1)
            facts.toolkit.cudnn_location = text if "/" in text else None
            break


def _packages(packages: List[Tuple[str, str]], facts: Facts) -> None:
    torch = facts.torch
    seen: Set[Tuple[str, str]] = set()
    for source, text in packages:
        name, version, channel = _package(source, text)
        if not name or not version:
            continue
        if name.startswith("nvidia-") and name != "nvidia-ml-py":
            torch.nvidia_wheels.setdefault(name, version)
        elif name == "numpy":
            torch.numpy_version = torch.numpy_version or version
        installer = "conda" if source == "conda" and channel != "pypi" else "pip"
        if name in _FAMILY and (name, version) not in seen:
            seen.add((name, version))
            torch.distributions.append(Distribution(name, version, installer=installer))
            if name == "torchvision":
                torch.torchvision_version = torch.torchvision_version or version
            elif name == "torchaudio":
                torch.torchaudio_version = torch.torchaudio_version or version


def _package(source: str, text: str) -> Tuple[str, str, str]:
    """(name, version, channel) of a [pip3] name==version or a [conda] name version build channel line."""
    if source.startswith("pip"):
        name, _, version = text.partition("==")
        return name.strip().lower().replace("_", "-"), version.strip(), ""
    parts = text.split()
    if len(parts) < 2:
        return "", "", ""
    return parts[0].lower(), parts[1], parts[3] if len(parts) > 3 else ""
