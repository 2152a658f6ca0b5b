"""Lines about torch's own libraries: `import torch` failing on one, `ldd` of one, `pip list` rows.

Each is read only where it is torch's: a library under torch/ or an nvidia-* wheel (or named libtorch*),
ldd of such a library, and the family's rows of a `pip list`. TensorFlow's, Docker's or another
program's library errors are not torch's import failing.
"""

from __future__ import annotations

import re
from typing import List, Optional, Set

from gpusetup.facts.model import Distribution, LoadedLibrary, TorchFacts
from gpusetup.facts.paste.clean import MAX_LINE, Line
from gpusetup.facts.status import ProbeStatus

# ".../nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, version ..."
_FAILURE = re.compile(r": (undefined symbol: \S|cannot open shared object file)")
_LIBRARY_FILE = re.compile(r"lib[\w+-]{1,80}\.so[\w.]{0,20}")
# torch's CUDA libraries (the probe's list, and cublasLt) and its own
_CUDA_LIBRARY = re.compile(
    r"lib(?:cuda|cudart|cublas|cublasLt|cudnn|nccl|nvJitLink|cusparse|nvrtc|cufft|cusolver|curand|"
    r"cupti|nvToolsExt)(?![a-z])"
)
_OWN_LIBRARY = re.compile(r"lib(?:torch|c10|caffe2|shm)(?![a-z])")
_TORCH_DIRS = ("/torch/", "/site-packages/nvidia/", "/dist-packages/nvidia/")
_PROMPT = r"^(?:\([^()\s]{0,80}\)\s*)?(?:[\w.@~:/-]{0,200}[$#>]\s*)?"
# ldd's command and lines: "\tlibnvJitLink.so.12 => /usr/local/cuda-12.1/lib64/libnvJitLink.so.12 (0x7...)"
_LDD_COMMAND = re.compile(_PROMPT + r"ldd(?: -r)? (\S{1,1000})\s*$")
_LDD_RESOLVED = re.compile(
    r"^\s*(lib[\w+-]{1,80})\.so[\w.]{0,20} => (/\S{1,1000}) \(0x[0-9a-f]{1,16}\)\s*$"
)
_LDD_OTHER = re.compile(
    r"^\s*(?:\S{1,200} => (?:not found|\S{1,1000} \(0x[0-9a-f]{1,16}\))|\S{1,1000} \(0x[0-9a-f]{1,16}\))\s*$"
)
# `pip list` rows of torch's family and its nvidia-* wheels, often grepped ("pip list | grep torch")
_PIP_ROW = re.compile(
    r"^(torch|torchvision|torchaudio|triton|pytorch-triton|nvidia-[a-z0-9-]{1,60})\s{2,}(\d[\w.+!-]{0,60})\s*$"
)
_PIP_LIST = re.compile(
    _PROMPT + r"(?:python3? -m )?pip3? list(?:\s|$)|^Package\s{2,}Version\s*$|^-{3,}\s+-{3,}\s*$"
)


def is_torch_library(path: str) -> bool:
    """A library of torch's: under torch/ or an nvidia-* wheel, or torch's own by name."""
    name = _LIBRARY_FILE.fullmatch(path.rsplit("/", 1)[-1])
    if name is None:
        return False
    if _OWN_LIBRARY.match(name.group()):
        return True
    return _CUDA_LIBRARY.match(name.group()) is not None and any(d in path for d in _TORCH_DIRS)


def read_library_lines(lines: List[Line], torch: TorchFacts) -> Set[int]:
    """Fill torch's error, loaded libraries and packages from the lines that state them."""
    used: Set[int] = set()
    ldd_of_torch: Optional[bool] = None  # inside ldd's output: whether its target is torch's
    for line in lines:
        text = line.text[:MAX_LINE].strip()
        command = _LDD_COMMAND.match(text)
        if command:
            ldd_of_torch = is_torch_library(command.group(1))
            used.add(line.number)
            continue
        if ldd_of_torch is not None and _ldd(text, torch, ldd_of_torch):
            used.add(line.number)
            continue
        ldd_of_torch = None
        if _failure(text, torch) or _pip_row(text, torch):
            used.add(line.number)
    return used


def _failure(text: str, torch: TorchFacts) -> bool:
    """A library of torch's that could not be loaded: import torch fails with it."""
    failure = _FAILURE.search(text)
    if failure is None:
        return False
    head = text[: failure.start()].split()
    path = head[-1] if head else ""
    if not is_torch_library(path):
        return False
    if (
        torch.status == ProbeStatus.NOT_RUN and not torch.error
    ):  # a torch shown working says otherwise
        torch.status = ProbeStatus.IMPORT_ERROR
        kind = head[-2] if len(head) > 1 and head[-2] in ("ImportError:", "OSError:") else ""
        torch.error = f"{kind or 'ImportError:'} {text[text.rfind(path, 0, failure.start()) :]}"
    return True


def _ldd(text: str, torch: TorchFacts, of_torch: bool) -> bool:
    """One line of ldd's output; the CUDA libraries it resolves for torch's library are those the
    loader would load for torch (another program's are not)."""
    resolved = _LDD_RESOLVED.match(text)
    if resolved and of_torch and _CUDA_LIBRARY.fullmatch(resolved.group(1)):
        library = LoadedLibrary(name=resolved.group(1), path=resolved.group(2))
        if library not in torch.loaded_libraries:
            torch.loaded_libraries.append(library)
    return bool(resolved or _LDD_OTHER.match(text))


def _pip_row(text: str, torch: TorchFacts) -> bool:
    """A `pip list` row: which torch (and wheels) are installed, whether or not it imports."""
    row = _PIP_ROW.match(text)
    if row is None:
        return _PIP_LIST.match(text) is not None
    name, version = row.groups()
    if name == "nvidia-ml-py":
        return True  # NVML's bindings, not a CUDA library wheel
    if name.startswith("nvidia-"):
        torch.nvidia_wheels.setdefault(name, version)
    elif not any(d.name == name for d in torch.distributions):
        torch.distributions.append(Distribution(name, version, installer="pip"))
        if name == "torchvision":
            torch.torchvision_version = torch.torchvision_version or version
        elif name == "torchaudio":
            torch.torchaudio_version = torch.torchaudio_version or version
    return True
