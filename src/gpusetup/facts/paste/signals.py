"""Error and warning lines that mean something wherever they appear in a paste (torch, CUDA, cuDNN)."""

from __future__ import annotations

import re
from typing import List, Set

from gpusetup.facts.model import TorchFacts
from gpusetup.facts.paste.clean import Line

_CUDA_INIT = re.compile(
    r"(CUDA initialization: .*|Unexpected error from cudaGetDeviceCount\(\).*|"
    r"Found no NVIDIA driver on your system.*|The NVIDIA driver on your system is too old.*|"
    r".*with CUDA capability sm_\d+ is not compatible with the current PyTorch installation.*|"
    r".*CUDA driver version is insufficient for CUDA runtime version.*|"
    r".*Error 80[0-9]: [a-z ]+.*|.*CUDA unknown error.*)"
)
_DRIVER_API = re.compile(r"found version (\d{4,5})\b")
_CUDNN = re.compile(
    r"(cuDNN version (?:incompatibility|mismatch): .*|Could not load library libcudnn\S*\. Error: .*)"
)
_PRELOAD = re.compile(r"(lib[\w+-]+\.so\S*? not found in the system path.*)")
_SOURCE = re.compile(r"^\s{2,}\S.*[()=].*$")
_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*$")


def read_signals(lines: List[Line], torch: TorchFacts) -> Set[int]:
    """Fill torch's error fields from the lines that carry them; return those lines' numbers."""
    used: Set[int] = set()
    for line in lines:
        text = line.text.strip()
        hit = False
        for pattern, sink in ((_CUDA_INIT, "cuda"), (_CUDNN, "cudnn"), (_PRELOAD, "preload")):
            match = pattern.search(text)
            if not match:
                continue
            hit = True
            message = _TRIGGERED.sub("", match.group(1)).strip()
            if sink == "cuda" and message not in torch.init_warnings:
                torch.init_warnings.append(message)
            elif sink == "cudnn" and not torch.cudnn_error:
                torch.cudnn_error = message
            elif sink == "preload" and not torch.error:
                torch.error = "ValueError: " + message
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
