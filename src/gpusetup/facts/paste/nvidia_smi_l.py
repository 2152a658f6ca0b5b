"""nvidia-smi -L (one line a GPU, and its MIG devices) into facts: names and UUIDs, nothing else."""

from __future__ import annotations

import re
from typing import List, Optional

from gpusetup.facts.model import Facts, GpuFacts, InputKind, Unstated
from gpusetup.facts.paste.clean import Line
from gpusetup.facts.paste.reading import Reading
from gpusetup.facts.status import NvmlStatus

_MAX_LINE = 4096
# GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5a6f...); the UUID is what makes it -L, not collect_env.
_GPU = re.compile(r"^\s*GPU (\d{1,3}): ([^()]{1,200}?) \(UUID: (GPU-[0-9A-Fa-f-]{1,64})\)\s*$")
_MIG = re.compile(r"^\s*MIG [^()]{1,80}Device\s+\d{1,3}: \(UUID: (MIG-[\w/-]{1,80})\)\s*$")


def looks_like(lines: List[Line]) -> bool:
    return any(_GPU.match(line.text[:_MAX_LINE]) for line in lines)


def read(lines: List[Line], facts: Facts) -> Reading:
    """Each GPU's index, name and UUID; a GPU another format already read only gains its UUID."""
    reading = Reading(InputKind.NVIDIA_SMI_L, unstated=set(Unstated))
    known = {gpu.index: gpu for gpu in facts.gpus}
    gpu: Optional[GpuFacts] = None
    for line in lines:
        text = line.text[:_MAX_LINE]
        match = _GPU.match(text)
        if match:
            index, name, uuid = int(match.group(1)), match.group(2).strip(), match.group(3)
            gpu = known.get(index)
            if gpu is None:
                gpu = GpuFacts(index=index, name=name)
                facts.gpus.append(gpu)
                known[index] = gpu
            gpu.uuid = gpu.uuid or uuid
            reading.used.add(line.number)
        elif gpu is not None and _MIG.match(text):
            gpu.mig_enabled = True
            reading.used.add(line.number)
    if reading.used and facts.driver.nvml == NvmlStatus.NOT_COLLECTED:
        facts.driver.nvml = NvmlStatus.OK  # nvidia-smi listed the GPUs: NVML worked
    return reading
