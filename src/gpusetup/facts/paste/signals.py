"""Error and warning lines that mean something wherever they appear in a paste (torch, CUDA, cuDNN)."""

from __future__ import annotations

import re
from typing import List, Optional, Set

from gpusetup.facts.model import Distribution, LoadedLibrary, TorchFacts
from gpusetup.facts.paste.clean import Line
from gpusetup.facts.status import ProbeStatus

MAX_LINE = 4096

# No leading ".*" (quadratic in a search): a line naming one of these is the message, whole ...
_CUDA_INIT_LINE = re.compile(
    r"with CUDA capability sm_\d+ is not compatible with the current PyTorch installation|"
    r"CUDA driver version is insufficient for CUDA runtime version|Error 80[0-9]: [a-z ]|"
    r"CUDA unknown error"
)
# ... and one holding one of these is the message from there on.
_CUDA_INIT_FROM = re.compile(
    r"CUDA initialization: |Unexpected error from cudaGetDeviceCount\(\)|"
    r"Found no NVIDIA driver on your system|The NVIDIA driver on your system is too old"
)
_DRIVER_API = re.compile(r"found version (\d{4,5})\b")
_CUDNN = re.compile(
    r"(cuDNN version (?:incompatibility|mismatch): .*|Could not load library libcudnn\S*\. Error: .*)"
)
_PRELOAD = re.compile(r"(lib[\w+-]{1,80}\.so\S{0,80}? not found in the system path.*)")
# import torch failing on a shared library (a traceback's last line, or an issue title quoting it):
# ".../nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, version ..."
_LIBRARY_FAILURE = re.compile(r": (undefined symbol: \S|cannot open shared object file)")
_LIBRARY_FILE = re.compile(r"lib[\w+-]{1,80}\.so[\w.]{0,20}")
# The libraries whose failure is torch's own: its CUDA libraries (the probe's list), libtorch*, libc10*.
_TORCH_LIBRARY = re.compile(
    r"lib(?:cuda|cudart|cublas|cudnn|nccl|nvJitLink|cusparse|nvrtc|cufft|cusolver|curand|cupti|"
    r"nvToolsExt|torch|c10|caffe2|shm)(?![a-z])"
)
# ldd's lines: "\tlibnvJitLink.so.12 => /usr/local/cuda-12.1/lib64/libnvJitLink.so.12 (0x000070dd...)"
_LDD_RESOLVED = re.compile(
    r"^\s*(lib[\w+-]{1,80})\.so[\w.]{0,20} => (/\S{1,1000}) \(0x[0-9a-f]{1,16}\)\s*$"
)
_LDD_OTHER = re.compile(
    r"^\s*(?:\S{1,200} => (?:not found|\S{1,1000} \(0x[0-9a-f]{1,16}\))|\S{1,1000} \(0x[0-9a-f]{1,16}\))\s*$"
    r"|(?:^|[\s$#>])ldd(?: -r)? \S{1,1000}\s*$"
)
# `pip list` rows of torch's family and its nvidia-* wheels, often grepped ("pip list | grep torch")
_PIP_ROW = re.compile(
    r"^(torch|torchvision|torchaudio|triton|pytorch-triton|nvidia-[a-z0-9-]{1,60})\s{2,}(\d[\w.+!-]{0,60})\s*$"
)
_PIP_LIST = re.compile(r"(?:^|[\s$#>])pip3? list\b|^Package\s{2,}Version\s*$|^-{3,}\s+-{3,}\s*$")
_SOURCE = re.compile(r"^\s{2,}\S.*[()=].*$")
_TRIGGERED = "(Triggered internally at "
# YOLOv5's start banner names the torch it imported ("YOLOv5 v4.0-14-gb75c432 torch 1.7.1 CPU");
# "CPU" may be --device cpu, so it says nothing of CUDA, and the build is not named.
_YOLO_BANNER = re.compile(r"\bYOLOv5\b.{0,80}?\btorch[ -](\d{1,2}\.\d{1,2}(?:\.\d{1,2})?)(?=[ +])")


def read_signals(lines: List[Line], torch: TorchFacts) -> Set[int]:
    """Fill torch's error fields from the lines that carry them; return those lines' numbers."""
    used: Set[int] = set()
    for line in lines:
        text = line.text[:MAX_LINE].strip()  # a cap keeps every search short
        hit = False
        messages = [(_cuda_init(text), "cuda")]
        for pattern, sink in ((_CUDNN, "cudnn"), (_PRELOAD, "preload")):
            match = pattern.search(text)
            messages.append((match.group(1) if match else None, sink))
        for found, sink in messages:
            if found is None:
                continue
            hit = True
            message = _untriggered(found)
            if sink == "cuda" and message not in torch.init_warnings:
                torch.init_warnings.append(message)
            elif sink == "cudnn" and not torch.cudnn_error:
                torch.cudnn_error = message
            elif sink == "preload" and not torch.error:
                torch.error = "ValueError: " + message
        hit = _library_failure(text, torch) or _ldd(text, torch) or _pip_row(text, torch) or hit
        banner = _YOLO_BANNER.search(text)
        if banner and torch.version is None:
            torch.version = banner.group(1)
            torch.status = ProbeStatus.OK  # YOLOv5 imported it to print the banner
            torch.unavailable.setdefault("cuda_build", "YOLOv5's banner names torch's version only")
            hit = True
        api = _DRIVER_API.search(text)
        if api and "driver" in text.lower():
            torch.driver_api_version = int(api.group(1))
            hit = True
        if hit:
            used.add(line.number)
    # The source line Python prints under a warning ("  return torch._C._cuda_getDeviceCount() > 0").
    after = {line.number + 1 for line in lines if line.number in used}
    used |= {line.number for line in lines if line.number in after and _SOURCE.match(line.text)}
    return used


def _library_failure(text: str, torch: TorchFacts) -> bool:
    """A line saying a library of torch's could not be loaded: import torch fails with it."""
    failure = _LIBRARY_FAILURE.search(text)
    if failure is None:
        return False
    head = text[: failure.start()].split()
    path = head[-1] if head else ""
    library = _LIBRARY_FILE.fullmatch(path.rsplit("/", 1)[-1])
    if library is None or _TORCH_LIBRARY.match(library.group()) is None:
        return False
    if torch.status != ProbeStatus.OK and not torch.error:  # a torch that imported says otherwise
        torch.status = ProbeStatus.IMPORT_ERROR
        kind = (
            head[-2]
            if len(head) > 1 and head[-2] in ("ImportError:", "OSError:")
            else "ImportError:"
        )
        torch.error = f"{kind} {text[text.find(path, len(text) - len(text.lstrip())) :].strip()}"
    return True


def _ldd(text: str, torch: TorchFacts) -> bool:
    """ldd's lines: the CUDA libraries it resolves are those the loader would load for torch."""
    resolved = _LDD_RESOLVED.match(text)
    if resolved and _TORCH_LIBRARY.fullmatch(resolved.group(1)):
        library = LoadedLibrary(name=resolved.group(1), path=resolved.group(2))
        if library not in torch.loaded_libraries:
            torch.loaded_libraries.append(library)
        return True
    return bool(resolved or _LDD_OTHER.search(text))


def _pip_row(text: str, torch: TorchFacts) -> bool:
    """A `pip list` row: which torch (and wheels) are installed, whether or not it imports."""
    row = _PIP_ROW.match(text)
    if row is None:
        return _PIP_LIST.search(text) is not None
    name, version = row.groups()
    if name.startswith("nvidia-"):
        torch.nvidia_wheels.setdefault(name, version)
    elif not any(d.name == name for d in torch.distributions):
        torch.distributions.append(Distribution(name, version, installer="pip"))
        if name == "torchvision":
            torch.torchvision_version = torch.torchvision_version or version
        elif name == "torchaudio":
            torch.torchaudio_version = torch.torchaudio_version or version
    return True


def _cuda_init(text: str) -> Optional[str]:
    """The CUDA initialisation message a line carries, if any."""
    if _CUDA_INIT_LINE.search(text):
        return text
    start = _CUDA_INIT_FROM.search(text)
    return text[start.start() :] if start else None


def _untriggered(message: str) -> str:
    """The message without torch's "(Triggered internally at ...)" tail."""
    cut = message.find(_TRIGGERED)
    return (message if cut < 0 else message[:cut]).strip()
