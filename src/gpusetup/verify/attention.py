"""Whether an attention backend that did not run fails verify: torch's own rules (rules/sdpa.py, the
function doctor's flash-attention check uses) applied to the facts the child reported (pure).

The child (verify/_pt2_attention.py) cannot import gpusetup, so it judges nothing: for a backend
that did not run it prints an SDPA event (verify/events.py ChildSdpa), and this turns it into the
RESULT row verify shows. A backend this device must run (math always; flash and memory-efficient
where torch's rules for this release, GPU, dtype and head dim allow them, flash only when built;
cuDNN never, as it also depends on the build's cuDNN) that torch refused is a failed row.
"""

from __future__ import annotations

from gpusetup.rules.sdpa import SdpaBackend, era_for, usable_backends
from gpusetup.verify.events import ChildResult, ChildSdpa
from gpusetup.verify.vocab import Benchmark, Dtype, SdpaOutcome, named

REASON_LIMIT = 200  # characters of torch's message a "not available" row quotes


def must_run(facts: ChildSdpa) -> bool:
    """Whether torch's rules say this device runs this backend for these inputs (CPU: math only)."""
    cap = facts.compute_capability()
    if cap is None:
        return facts.backend is SdpaBackend.MATH
    era = era_for(facts.torch)  # the raw version: a nightly takes its release's rules
    usable = usable_backends(era, cap, facts.dtype, facts.flash_built, facts.head_dim)
    return facts.backend in usable


def judged(facts: ChildSdpa) -> ChildResult:
    """The row of a backend that did not run: failed when it must run and torch refused it, else
    'not available' with why (a skip: no value, ok)."""
    failed = facts.outcome is SdpaOutcome.REFUSED and must_run(facts)
    if failed:
        reason = f"{facts.backend} failed: {facts.error_line}"
    elif facts.outcome is SdpaOutcome.CUDA_ONLY:
        reason = "CUDA-only kernel"
    elif facts.outcome is SdpaOutcome.ABSENT:  # the selection API lacks it: nothing to force
        reason = f"not available: not in torch {facts.torch}"
    else:
        reason = f"not available: {facts.message[:REASON_LIMIT]}"
    return ChildResult(
        gpu=facts.gpu,
        name=facts.name,
        benchmark=Benchmark.ATTENTION,
        dtype=named(Dtype, facts.dtype.value),
        value=None,
        unit="TFLOP/s",
        size=dict(facts.size, backend=facts.backend.value),
        seconds=facts.seconds if failed else 0.0,
        ok=not failed,
        reason=reason,
    )
