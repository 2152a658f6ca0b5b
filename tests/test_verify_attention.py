"""verify's attention judge (verify/attention.py): a backend the child says did not run becomes its row
by torch's rules (rules/sdpa.py, doctor's function), for every packaged release x GPU x backend; the
SDPA event decodes strictly; the real child on CPU torch reports a real refusal and verify judges it."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from gpusetup.profiles.model import Profiles
from gpusetup.rules.sdpa import SdpaBackend, SdpaDtype, era_for, why_not
from gpusetup.verify.attention import judged, must_run
from gpusetup.verify.child import ChildRun, run_child
from gpusetup.verify.events import BadEvent, ChildResult, ChildSdpa, decode
from gpusetup.verify.score import Floors, score
from gpusetup.verify.vocab import Benchmark, Dtype, EventKind, SdpaOutcome
from gpusetup.versions import ComputeCapability
from tests.test_checks_pytorch2 import FLASH_BY_RELEASE
from tests.test_sdpa_rules import CAPABILITIES
from tests.test_verify_cli import torch_needed

FLASH, MEM, CUDNN, MATH = (
    SdpaBackend.FLASH,
    SdpaBackend.MEM_EFFICIENT,
    SdpaBackend.CUDNN,
    SdpaBackend.MATH,
)
CHILD = Path(__file__).resolve().parents[1] / "src/gpusetup/verify/_pt2_attention.py"
HEAD_DIMS = (64, 128, 160, 60)  # --quick, --full, and two that flash 1 or mem-efficient refuse
SIZE = {"batch": 4, "heads": 16, "seq": 1024, "head_dim": 64, "causal": True}
# hand-made after torch's words for a refused flash call outside its range (two warnings' first lines)
REFUSAL_HANDMADE = (
    "Flash attention kernel not used because: (Triggered internally at sdp_utils.cpp:651.); "
    "Flash attention only supports gpu architectures in the range [sm80, sm90]. Attempting to "
    "run on a sm 7.5 gpu."
)


def _facts(
    backend: SdpaBackend = FLASH,
    outcome: SdpaOutcome = SdpaOutcome.REFUSED,
    torch: str = "2.4.1+cu124",
    capability: str = "9.0",
    built: Optional[bool] = True,
    head_dim: int = 64,
    **more: Any,
) -> ChildSdpa:
    cap = ComputeCapability.parse(capability) if capability else None
    dtype = SdpaDtype.FP32 if cap is None else SdpaDtype.BF16 if cap.major >= 8 else SdpaDtype.FP16
    values: Dict[str, Any] = {
        "message": REFUSAL_HANDMADE,
        "error_line": REFUSAL_HANDMADE.split("; ")[0],
        "seconds": 0.012,
        **more,
    }
    return ChildSdpa(
        gpu=0,
        name="NVIDIA GPU",
        backend=backend,
        dtype=dtype,
        outcome=outcome,
        head_dim=head_dim,
        torch=torch,
        capability=capability,
        flash_built=built,
        size=dict(SIZE, head_dim=head_dim),
        **values,
    )


def _releases(profiles: Profiles) -> List[str]:
    """Every packaged torch release, and pre-releases and nightlies as torch prints them."""
    releases = [str(v) for v in sorted(r.version for r in profiles.releases.values())]
    assert len(releases) >= 20
    return [*releases, "2.1.0a0+32f93b1", "2.2.0a0", "2.7.0.dev20250301+cu128", "2.8.0.dev20250601"]


def _must_by_the_table(
    backend: SdpaBackend, release: str, cap: ComputeCapability, built: Optional[bool], head_dim: int
) -> bool:
    """What the task states, from why_not (the table's cases) alone: math always, cuDNN never,
    flash only when built (None: a torch that cannot say), the rest where torch allows them."""
    if backend is MATH:
        return True
    if backend is CUDNN or (backend is FLASH and built is False):
        return False
    dtype = SdpaDtype.BF16 if cap.major >= 8 else SdpaDtype.FP16
    return not why_not(backend, era_for(release), cap, dtype, head_dim)


def test_a_refused_backend_fails_exactly_where_the_rules_say_for_every_release_and_gpu(
    profiles: Profiles,
) -> None:
    checked = failed = 0
    for release in _releases(profiles):
        for text in CAPABILITIES:
            cap = ComputeCapability.parse(text)
            for backend in SdpaBackend:
                for built in (True, False, None):
                    for head_dim in HEAD_DIMS:
                        facts = _facts(
                            backend, torch=release, capability=text, built=built, head_dim=head_dim
                        )
                        want = _must_by_the_table(backend, release, cap, built, head_dim)
                        row = judged(facts)
                        assert row.ok is not want, (release, text, backend, built, head_dim)
                        if want:
                            assert row.reason == f"{backend.value} failed: {facts.error_line}"
                            assert row.seconds == facts.seconds
                        else:
                            assert row.reason == f"not available: {REFUSAL_HANDMADE[:200]}"
                            assert row.seconds == 0.0
                        checked, failed = checked + 1, failed + want
    assert checked == len(_releases(profiles)) * len(CAPABILITIES) * len(SdpaBackend) * 3 * len(
        HEAD_DIMS
    )
    assert 0 < failed < checked  # both verdicts occur


@pytest.mark.parametrize("outcome", [SdpaOutcome.ABSENT, SdpaOutcome.CUDA_ONLY])
@pytest.mark.parametrize("backend", list(SdpaBackend))
def test_a_backend_that_was_not_tried_is_never_a_failure(
    outcome: SdpaOutcome, backend: SdpaBackend
) -> None:
    row = judged(_facts(backend, outcome, torch="2.2.0+cu121", capability="8.0"))
    assert row.ok and row.value is None and row.seconds == 0.0
    want = (
        "CUDA-only kernel"
        if outcome is SdpaOutcome.CUDA_ONLY
        else "not available: not in torch 2.2.0+cu121"
    )
    assert row.reason == want


@pytest.mark.parametrize(("torch", "capability", "found", "instead"), FLASH_BY_RELEASE)
def test_verify_and_doctor_agree_on_flash_and_memory_efficient(
    torch: str, capability: str, found: bool, instead: str
) -> None:
    """doctor's flash-attention-unavailable cases (tests/test_checks_pytorch2.py): where doctor says
    there is no flash, a refused flash is not a failure; where doctor names memory-efficient
    instead, a refused memory-efficient is."""
    assert must_run(_facts(FLASH, torch=torch, capability=capability)) is not found
    if found:
        mem = must_run(_facts(MEM, torch=torch, capability=capability))
        assert mem is (instead == "memory-efficient")


def test_the_cpu_must_run_math_only() -> None:
    for backend in SdpaBackend:
        row = judged(_facts(backend, capability="", torch="2.13.0+cpu", built=False))
        assert row.ok is (backend is not MATH)
        assert row.gpu == 0 and row.dtype is Dtype.FP32


def test_the_row_looks_like_every_attention_row(profiles: Profiles) -> None:
    row = judged(_facts(MEM, torch="2.6.0+cu126", capability="10.0", message="x" * 500))
    assert row.benchmark is Benchmark.ATTENTION and row.dtype is Dtype.BF16
    assert row.unit == "TFLOP/s" and row.value is None
    assert list(row.size) == [*SIZE, "backend"] and row.size["backend"] == "mem-efficient"
    assert row.reason == "not available: " + "x" * 200  # torch's words, cut
    (scored,) = score([row], profiles, Floors(), {}, {})
    assert scored.skipped and scored.ok  # shown as a skip, as before


def test_a_nightly_takes_its_releases_rules() -> None:
    """2.7's nightlies run flash on sm_120 (2.7's rule); 2.6 did not."""
    assert must_run(_facts(torch="2.7.0.dev20250301+cu128", capability="12.0"))
    assert not must_run(_facts(torch="2.6.0+cu126", capability="12.0"))
    assert must_run(_facts(torch="2.1.0a0+32f93b1", capability="7.5", built=None))


# ---- the SDPA event ----


def _event(**changes: Any) -> Dict[str, Any]:
    payload: Dict[str, Any] = {
        "gpu": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "backend": "flash",
        "dtype": "bf16",
        "outcome": "refused",
        "head_dim": 64,
        "torch": "2.4.1+cu124",
        "capability": "9.0",
        "flash_built": True,
        "message": "boom",
        "error_line": "boom",
        "size": SIZE,
        "seconds": 0.01,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not ...}


def test_an_sdpa_line_decodes_to_members() -> None:
    event = decode("SDPA", json.dumps(_event()))
    assert isinstance(event, ChildSdpa)
    assert event.backend is FLASH and event.dtype is SdpaDtype.BF16
    assert event.outcome is SdpaOutcome.REFUSED
    assert event.compute_capability() == ComputeCapability(9, 0)
    cpu = decode("SDPA", json.dumps(_event(capability="", flash_built=None)))
    assert isinstance(cpu, ChildSdpa) and cpu.compute_capability() is None


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"backend": "warp"}, "backend: expected one of flash, mem-efficient, cudnn, math"),
        ({"outcome": "ran"}, "outcome: expected one of refused, absent, cuda-only, got 'ran'"),
        ({"dtype": "fp8"}, "dtype: expected one of fp16, bf16, fp32"),
        ({"backend": 3}, "backend: expected one of"),
        ({"capability": "sm_9x"}, "capability: not a compute capability: 'sm_9x'"),
        ({"head_dim": ...}, "head_dim is missing"),
        ({"head_dim": "64"}, "head_dim: expected int, got str"),
        ({"flash_built": "yes"}, "flash_built: expected bool, got str"),
    ],
)
def test_a_malformed_sdpa_line_is_a_bad_event(changes: Dict[str, Any], says: str) -> None:
    event = decode("SDPA", json.dumps(_event(**changes)))
    assert isinstance(event, BadEvent) and says in event.reason, event


def test_an_sdpa_line_is_kept_as_its_judged_result() -> None:
    run = ChildRun()
    event = run.take("SDPA", json.dumps(_event(capability="7.5", dtype="fp16")))
    assert isinstance(event, ChildResult) and run.results == [event]
    assert event.ok and event.reason == "not available: boom"  # flash needs sm_80 from 2.2
    failed = run.take("SDPA", json.dumps(_event()))  # an H100 must run flash
    assert isinstance(failed, ChildResult) and not failed.ok
    assert failed.reason == "flash failed: boom" and failed.seconds == 0.01
    assert run.take(EventKind.SDPA, json.dumps(_event(outcome="absent"))) == run.results[-1]


def test_a_recorded_attention_row_of_the_older_child_still_scores_as_it_did(
    profiles: Profiles,
) -> None:
    """Before SDPA events the child judged refusals itself and printed RESULT rows; a recorded
    one (score takes recorded mappings) is still read as it was written."""
    base = {"gpu": 0, "name": "NVIDIA H100 80GB HBM3", "benchmark": "attention", "dtype": "bf16"}
    old = [
        dict(
            base,
            unit="TFLOP/s",
            size=dict(SIZE, backend="flash"),
            ok=False,
            reason="flash failed: x",
        ),
        dict(
            base,
            unit="TFLOP/s",
            size=dict(SIZE, backend="cudnn"),
            ok=True,
            reason="not available: y",
        ),
    ]
    failed, skipped = score(old, profiles, Floors(), {}, {})
    assert not failed.ok and failed.reason == "flash failed: x" and not failed.skipped
    assert skipped.ok and skipped.skipped and skipped.reason == "not available: y"


def test_the_child_prints_the_kind_and_outcomes_verify_reads() -> None:
    """The child cannot import the enums: the strings it prints must name their members."""
    tree = ast.parse(CHILD.read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    outcomes = {
        a.value
        for c in calls
        if ast.unparse(c.func) == "_did_not_run"
        for a in c.args
        if isinstance(a, ast.Constant) and isinstance(a.value, str)
    }
    assert outcomes == {o.value for o in SdpaOutcome}
    emitted = [c.args[0] for c in calls if ast.unparse(c.func) == "bench.emit"]
    assert [ast.literal_eval(e) for e in emitted] == [EventKind.SDPA.value]
    assert "SDPA_ERAS" not in CHILD.read_text(encoding="utf-8")  # no copy of the table


# ---- for real, on the CPU ----


@pytest.mark.slow
@torch_needed
@pytest.mark.parametrize("backend", ["math", "flash"])
def test_a_real_refusal_on_the_cpu_is_judged_by_the_rules(backend: str, profiles: Profiles) -> None:
    """The child plants a key in fp64 for one backend; torch refuses the mixed dtypes itself. The CPU
    must run math (a failed row, torch's first line), not flash (not available, torch's words)."""
    config = {"devices": ["cpu"], "benchmarks": ["attention"], "fault": f"sdpa-refuse:{backend}"}
    seen: List[Tuple[str, Dict[str, Any]]] = []
    run = run_child(sys.executable, config, timeout=300, on_event=lambda k, e: seen.append((k, e)))
    assert run.done and not run.bad, run.stderr
    rows = {r.size["backend"]: r for r in score(run.results, profiles, Floors(), {}, {})}
    assert set(rows) == {"flash", "mem-efficient", "cudnn", "math"}
    refused, other = rows[backend], rows["flash" if backend == "math" else "math"]
    words = "Expected query, key, and value to have the same dtype"
    if backend == "math":
        assert not refused.ok and refused.reason.startswith(f"math failed: {words}")
    else:
        assert refused.ok and refused.skipped
        assert refused.reason.startswith(f"not available: {words}")
    assert other.ok and other.value is not None and other.value > 0
    assert rows["cudnn"].skipped and rows["cudnn"].reason == "CUDA-only kernel"
    kinds = {k for k, e in seen if e.get("benchmark") == "attention"}
    assert kinds == {"RESULT"}  # the progress display sees judged rows only
