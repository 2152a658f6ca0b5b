"""A Python session pasted into a report: `>>> torch.cuda.is_available()` and the value under it."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Set

from gpusetup.facts.model import TorchFacts
from gpusetup.facts.paste.clean import MAX_LINE, Line
from gpusetup.facts.status import ProbeStatus

# ">>> torch.cuda.is_available()", "In [3]: print(torch.__version__)"; the value is the next line
# ("False", "Out[3]: '2.1.0+cu121'").
_PROMPT = re.compile(r"^(?:>>>|In \[\d{1,6}\]:)\s*(?:print\()?(torch\.[\w.]{1,40}(?:\(\))?)\)?\s*$")
_IMPORT = re.compile(r"^(?:>>>|In \[\d{1,6}\]:)\s*import torch\s*$")
_OUT = re.compile(r"^(?:Out\[\d{1,6}\]:\s*)?(.{1,200})$")
_BOOL = {"True": True, "False": False}
_VERSION = re.compile(r"['\"]?(\d{1,2}\.\d{1,3}(?:\.\d{1,3})?[\w.+-]{0,60})['\"]?")


def read_repl(lines: List[Line], torch: TorchFacts) -> Set[int]:
    """Fill torch's facts from the expressions the session shows; return the lines read."""
    used: Set[int] = set()
    prompts: Set[int] = set()  # read only if the session shows a value: a prompt alone says nothing
    shown: Dict[str, str] = {}
    pending: Optional[str] = None
    for line in lines:
        text = line.text[:MAX_LINE].strip()
        if not text:
            continue
        if pending is not None and (_PROMPT.match(text) or _IMPORT.match(text)):
            if pending == "torch.version.cuda":  # the REPL prints nothing for None: a CPU build
                shown.setdefault(pending, "None")
            pending = None
        if pending is not None:
            out = _OUT.match(text)
            value = out.group(1).strip() if out else ""
            if _takes(pending, value):
                shown.setdefault(pending, value.strip("'\""))
                used.add(line.number)
            pending = None
            continue
        prompt = _PROMPT.match(text)
        if prompt:
            pending = prompt.group(1)
            prompts.add(line.number)
        elif _IMPORT.match(text):
            prompts.add(line.number)
    if not shown:
        return set()
    _apply(shown, torch)
    return used | prompts


def _takes(expression: str, value: str) -> bool:
    """Whether a printed value is one this expression prints (not a traceback, not prose)."""
    if expression == "torch.cuda.is_available()":
        return value in _BOOL
    if expression == "torch.cuda.device_count()":
        return value.isdigit() and len(value) < 4
    if expression == "torch.__version__":
        return _VERSION.fullmatch(value) is not None
    if expression == "torch.version.cuda":
        return value == "None" or _VERSION.fullmatch(value) is not None
    return False


def _apply(shown: Dict[str, str], torch: TorchFacts) -> None:
    """The session evaluated torch, so it imported; what it did not print stays unknown."""
    if torch.status == ProbeStatus.NOT_RUN:
        torch.status = ProbeStatus.OK
    if "torch.cuda.is_available()" in shown and torch.cuda_available is None:
        torch.cuda_available = _BOOL[shown["torch.cuda.is_available()"]]
    if "torch.cuda.device_count()" in shown and torch.device_count is None:
        torch.device_count = int(shown["torch.cuda.device_count()"])
    torch.version = torch.version or shown.get("torch.__version__")
    cuda = shown.get("torch.version.cuda")
    if cuda is None:  # not shown: not a CPU build either
        torch.unavailable.setdefault(
            "cuda_build", "the Python session does not show torch.version.cuda"
        )
    elif cuda != "None":  # "None": a CPU (or ROCm) build, as torch says itself
        torch.cuda_build = torch.cuda_build or cuda
