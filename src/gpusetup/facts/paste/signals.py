"""Error and warning lines that mean something wherever they appear in a paste (torch, CUDA, cuDNN)."""

from __future__ import annotations

import re
from typing import List, Optional, Set

from gpusetup.facts.model import TorchFacts
from gpusetup.facts.paste.clean import MAX_LINE, Line
from gpusetup.facts.status import ProbeStatus

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
