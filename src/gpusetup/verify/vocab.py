"""verify's closed vocabularies: the kinds of line a child prints, why an attention backend did not
run, and (from profiles/measures.py, where gpus.yaml's keys are checked too) the dtypes it measures
and the benchmarks its rows name.

The child scripts (verify/_*.py) cannot import these: they print the same strings, and
verify/events.py turns each into its member once, when a line is decoded.
"""

from __future__ import annotations

import enum
from typing import Type, TypeVar, Union

from gpusetup.plumbing.codec import TextEnum
from gpusetup.profiles.measures import Benchmark, Dtype

__all__ = [  # Benchmark and Dtype are re-exported: verify's modules name them from here
    "PCIE_COPIES",
    "PT2_WORKLOADS",
    "Benchmark",
    "BenchmarkName",
    "Dtype",
    "DtypeName",
    "EventKind",
    "FatalKind",
    "FatalName",
    "SdpaOutcome",
    "named",
]

E = TypeVar("E", bound=enum.Enum)


class EventKind(TextEnum):
    """A child's line is GPUSETUP-<KIND>:<json>; a kind not here is ignored (verify/events.py)."""

    DEVICE = "DEVICE"
    RESULT = "RESULT"
    FATAL = "FATAL"
    RANK = "RANK"  # --collectives: one rank's identity
    SDPA = "SDPA"  # an attention backend that did not run: facts for verify/attention.py to judge
    DONE = "DONE"


class SdpaOutcome(TextEnum):
    """Why an attention backend the child forced on did not run (one ran is a RESULT instead)."""

    REFUSED = "refused"  # torch raised when asked to run it; its message is in the event
    ABSENT = "absent"  # this torch's sdpa_kernel (or sdp_kernel) cannot select it
    CUDA_ONLY = "cuda-only"  # a CUDA kernel, and the device is the CPU: not tried


class FatalKind(TextEnum):
    """Why a child cannot measure at all: the kind of its FATAL line."""

    TORCH_MISSING = "torch-missing"
    TORCH_IMPORT_FAILED = "torch-import-failed"
    CPU_BUILD = "cpu-build"
    CUDA_INIT_FAILED = "cuda-init-failed"
    NO_GPU = "no-gpu"
    BAD_DEVICE = "bad-device"  # --device names a GPU torch does not see
    RENDEZVOUS_FAILED = "rendezvous-failed"  # --collectives
    COLLECTIVE_FAILED = "collective-failed"


# verify's PyTorch 2 workloads (verify/_pt2_child.py), in the child's order: a hung compile ends it.
PT2_WORKLOADS = (Benchmark.ATTENTION, Benchmark.TRAIN_STEP, Benchmark.COMPILE)
PCIE_COPIES = (Benchmark.H2D, Benchmark.D2H)  # judged against the PCIe link, not the GPU

# A row's dtype column also holds a direction (p2p: "to gpu1") or a size (collectives), and a
# child may name a benchmark or a fatal kind this gpusetup does not know: those stay its own text.
DtypeName = Union[Dtype, str]
BenchmarkName = Union[Benchmark, str]
FatalName = Union[FatalKind, str]


def named(vocabulary: Type[E], text: str) -> Union[E, str]:
    """The member text names, or the text itself when it names none (shown as the child said it)."""
    try:
        return vocabulary(text)
    except ValueError:
        return text
