"""nvidia-smi -L (one line a GPU, and its MIG devices) into facts: names and UUIDs, nothing else."""

from __future__ import annotations

import re
from typing import List, Optional

from gpusetup.facts.model import Facts, GpuFacts, InputKind, Unstated
from gpusetup.facts.paste.clean import MAX_LINE, Line
from gpusetup.facts.paste.reading import Reading
from gpusetup.facts.status import NvmlStatus

# GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5a6f...); the UUID is what makes it -L, not collect_env.
_GPU = re.compile(r"^\s*GPU (\d{1,3}): ([^()]{1,200}?) \(UUID: (GPU-[0-9A-Fa-f-]{1,64})\)\s*$")
# Without UUIDs (`nvidia-smi -L` of older drivers, or cut by the reporter) only right after the command.
_GPU_BARE = re.compile(r"^\s*GPU (\d{1,3}): ([^()]{1,200}?)\s*$")
_COMMAND = re.compile(r"(?:^|[\s$#>])nvidia-smi\s+(?:-L|--list-gpus)\s*$")
_MIG = re.compile(r"^\s*MIG [^()]{1,80}Device\s+\d{1,3}: \(UUID: (MIG-[\w/-]{1,80})\)\s*$")


def looks_like(lines: List[Line]) -> bool:
    return any(
        _GPU.match(line.text[:MAX_LINE]) or _COMMAND.search(line.text[:MAX_LINE]) for line in lines
    )


def _gpu(text: str, after_command: bool) -> Optional[re.Match[str]]:
    """A GPU line: with its UUID anywhere, without it only in the block after the command line."""
    match = _GPU.match(text)
    if match is None and after_command:
        match = _GPU_BARE.match(text)
    return match


def read(lines: List[Line], facts: Facts) -> Reading:
    """Each GPU's index, name and UUID; a GPU another format already read only gains its UUID."""
    reading = Reading(InputKind.NVIDIA_SMI_L, unstated=set(Unstated))
    known = {gpu.index: gpu for gpu in facts.gpus}
    gpu: Optional[GpuFacts] = None
    command = 0  # the command line, read once a GPU line follows it
    after_command = False  # inside the block right after an `nvidia-smi -L` command line
    for line in lines:
        text = line.text[:MAX_LINE]
        if _COMMAND.search(text):
            after_command, command = True, line.number
            continue
        match = _gpu(text, after_command)
        if match is None and not _MIG.match(text):
            after_command = False
        if match:
            index, name = int(match.group(1)), match.group(2).strip()
            uuid = match.group(3) if match.re is _GPU else ""
            gpu = known.get(index)
            if gpu is None:
                gpu = GpuFacts(index=index, name=name)
                facts.gpus.append(gpu)
                known[index] = gpu
            gpu.uuid = gpu.uuid or uuid
            reading.used.add(line.number)
            if after_command:
                reading.used.add(command)
        elif gpu is not None and _MIG.match(text):
            gpu.mig_enabled = True
            reading.used.add(line.number)
    if reading.used and facts.driver.nvml == NvmlStatus.NOT_COLLECTED:
        facts.driver.nvml = NvmlStatus.OK  # nvidia-smi listed the GPUs: NVML worked
    return reading
