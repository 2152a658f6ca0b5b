"""verify's PyTorch 2 workloads: compile, attention and train-step run for real on the CPU (real torch
2.13), with the compilers hidden, with a planted hang and a planted out-of-memory; the pure parts
(floors, failure explanations, rows) from data."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List

import pytest

from gpusetup.cli import app
from gpusetup.errors import UsageError
from gpusetup.profiles.model import Profiles
from gpusetup.render.verify import size_text
from gpusetup.verify.child import run_child
from gpusetup.verify.config import parse_min_tflops
from gpusetup.verify.pt2 import explain, explain_compile_failures
from gpusetup.verify.score import Floors, Row, score
from tests.conftest import make_runner
from tests.test_verify_cli import torch_needed

runner = make_runner()


@pytest.mark.parametrize(
    ("message", "finding"),
    [
        (
            (
                "torch.compile failed: InvalidCxxCompiler: No working C++ compiler found in "
                "torch._inductor.config.cpp.cxx: (None, 'g++')"
            ),
            "inductor-no-compiler",
        ),
        ("/usr/bin/ld: cannot find -lcuda: No such file or directory", "triton-libcuda-not-found"),
        ("AssertionError: libcuda.so cannot found!", "triton-libcuda-not-found"),
        (
            "main.c:5:10: fatal error: Python.h: No such file or directory",
            "triton-no-python-headers",
        ),
        (
            "ImportError: cannot import name 'get_cuda_stream' from 'triton.runtime.jit'",
            "triton-version-mismatch",
        ),
        ("ModuleNotFoundError: No module named 'triton'", "triton-missing"),
        (
            "OSError: [Errno 30] Read-only file system: '/tmp/torchinductor_me'",
            "compile-cache-not-writable",
        ),
    ],
)
def test_compile_failures_name_the_doctor_finding(message: str, finding: str) -> None:
    assert explain(message) == finding


def test_unexplained_failure_gets_no_finding() -> None:
    row = Row(-1, "cpu", "compile", "fp32", None, "x eager", None, None, False, "boom")
    assert explain_compile_failures([row])[0].reason == "boom"


def test_min_tflops_accepts_workload_names() -> None:
    assert parse_min_tflops(["attention=50", "bf16=500"]) == {"attention": 50.0, "bf16": 500.0}
    with pytest.raises(UsageError, match="WORKLOAD=TFLOPS"):
        parse_min_tflops(["compile=3"])


def _raw(benchmark: str, dtype: str, value: float, **size: Any) -> Dict[str, Any]:
    return {
        "gpu": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "benchmark": benchmark,
        "dtype": dtype,
        "value": value,
        "unit": "x eager" if benchmark == "compile" else "TFLOP/s",
        "ok": True,
        "reason": "",
        "size": size,
    }


def test_rows_are_judged_by_their_own_floor(profiles: Profiles) -> None:
    raw = [
        _raw("attention", "bf16", 40.0, backend="flash"),
        _raw("train-step", "bf16", 300.0),
        _raw("compile", "bf16", 1.8),
    ]
    rows = score(raw, profiles, Floors(min_tflops={"attention": 100.0, "bf16": 1e6}), {}, {})
    attention, train, compiled = rows
    assert not attention.ok and attention.floor == 100.0  # --min-tflops attention=100
    assert train.ok and train.floor is None  # the bf16 matmul floor is not a training floor
    assert train.fraction_of_peak is not None and 0 < train.fraction_of_peak < 1  # MFU
    assert compiled.ok and compiled.fraction_of_peak is None  # a speedup has no datasheet peak


def test_attention_backends_are_compared_within_a_backend(profiles: Profiles) -> None:
    raw = [
        _raw("attention", "bf16", 400.0, backend="flash"),
        _raw("attention", "bf16", 100.0, backend="math"),
    ]
    raw[1]["gpu"] = 1
    rows = score(raw, profiles, Floors(), {}, {})
    assert "node median" not in rows[1].reason


def test_sizes_are_short() -> None:
    attention = {"backend": "flash", "batch": 4, "heads": 16, "seq": 1024, "head_dim": 64}
    assert size_text(attention) == "flash"
    assert size_text(dict(attention, backend="mem-efficient")) == "mem-eff"
    assert size_text({"layers": 4, "d_model": 512, "seq": 512, "batch": 8}) == "4L d512"
    assert size_text({"rows": 64, "width": 128, "compile_seconds": 13.5}) == "64x128"


def test_fleet_compares_attention_within_a_backend() -> None:
    from gpusetup.fleet.summary import Node, _slow

    def node(name: str, flash: float) -> Node:
        rows = [
            _raw("attention", "bf16", flash, backend="flash"),
            _raw("attention", "bf16", 100.0, backend="math"),
        ]
        return Node(name, results=rows)

    assert _slow([node("a", 400.0), node("b", 400.0)], 0.1) == []
    (line,) = _slow([node("a", 400.0), node("b", 400.0), node("c", 200.0)], 0.1)
    assert line.startswith("c gpu0 (NVIDIA H100 80GB HBM3) attention flash bf16: 200")


def test_min_tflops_with_a_compile_row_is_bad_usage() -> None:
    result = runner.invoke(app, ["verify", "--device", "cpu", "--min-tflops", "compile=3"])
    assert result.exit_code == 2
    assert "WORKLOAD=TFLOPS" in result.output and "Traceback" not in result.output


# ---- for real, on the CPU ----


def _hidden_compilers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH without gcc/g++/clang, CC/CXX unset, and a fresh Inductor cache (nothing prebuilt)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))


def _by_benchmark(results: List[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    found: Dict[str, List[Dict[str, Any]]] = {}
    for r in results:
        found.setdefault(r["benchmark"], []).append(r)
    return found


@pytest.mark.slow
@torch_needed
def test_cpu_verify_has_compile_attention_and_train_step_rows(tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    result = runner.invoke(
        app, ["verify", "--device", "cpu", "--dtype", "fp32", "--json", "--junit", str(junit)]
    )
    assert result.exit_code == 0, result.output
    rows = _by_benchmark(json.loads(result.stdout)["results"])
    (compiled,) = rows["compile"]
    assert compiled["ok"] and compiled["value"] > 0 and compiled["unit"] == "x eager"
    assert compiled["size"]["compile_seconds"] > 0 and compiled["size"]["cache_dir"]
    assert compiled["size"]["error_vs_eager"] < 1e-4  # fp32: the same sums in another order
    # the CPU run measured Dynamo/Inductor's start-up on its own, and the row says how long it took
    assert compiled["size"]["startup_seconds"] > 0 and "start-up" in compiled["reason"]
    backends = {r["size"]["backend"]: r for r in rows["attention"]}
    assert set(backends) == {"flash", "mem-efficient", "cudnn", "math"}
    assert backends["math"]["ok"] and backends["math"]["value"] > 0
    assert backends["math"]["error_vs_fp64"] < 1e-4
    assert backends["cudnn"]["skipped"] and "CUDA-only" in backends["cudnn"]["reason"]
    (train,) = rows["train-step"]
    assert train["ok"] and train["value"] > 0 and train["size"]["tokens_per_s"] > 0
    assert train["size"]["loss_last"] < train["size"]["loss_first"]
    names = {c.get("name") for c in ET.parse(junit).getroot().iter("testcase")}
    assert {
        "compile fp32",
        "attention fp32 flash",
        "attention fp32 math",
        "train-step fp32",
    } <= names


@pytest.mark.slow
@torch_needed
def test_with_compilers_hidden_only_compile_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profiles: Profiles
) -> None:
    _hidden_compilers(tmp_path, monkeypatch)
    config = {
        "devices": ["cpu"],
        "dtypes": ["fp32"],
        "benchmarks": ["attention", "train-step", "compile"],
    }
    run = run_child(sys.executable, config, timeout=600)
    assert run.done, run.stderr
    rows = explain_compile_failures(score(run.results, profiles, Floors(), {}, {}))
    found = {(r.benchmark, r.size.get("backend")): r for r in rows}
    compiled = found[("compile", None)]
    assert not compiled.ok and "No working C++ compiler" in compiled.reason
    assert "gpusetup doctor: inductor-no-compiler" in compiled.reason
    assert found[("attention", "math")].ok and found[("train-step", None)].ok


@pytest.mark.slow
@torch_needed
def test_a_hung_compile_is_ended_by_the_childs_timeout() -> None:
    config = {
        "devices": ["cpu"],
        "benchmarks": ["compile"],
        "fault": "compile-hang",
        "compile_timeout": 2,
    }
    run = run_child(sys.executable, config, timeout=300)
    assert run.done and not run.crash
    (row,) = run.results
    assert not row.ok and "did not finish in 2 s" in row.reason


@pytest.mark.slow
@torch_needed
def test_out_of_memory_in_train_step_shrinks_once_and_says_so() -> None:
    config = {"devices": ["cpu"], "benchmarks": ["train-step"], "fault": "train-oom"}
    run = run_child(sys.executable, config, timeout=300)
    (row,) = run.results
    assert row.ok, row.reason
    assert "out of memory at 2 layers x batch 4: shrunk once to 1 x 2" in row.reason
    assert row.size["layers"] == 1 and row.size["batch"] == 2


@pytest.mark.slow
@torch_needed
def test_a_nan_gradient_in_train_step_fails_it() -> None:
    config = {"devices": ["cpu"], "benchmarks": ["train-step"], "fault": "train-nan"}
    run = run_child(sys.executable, config, timeout=300)
    (row,) = run.results
    assert not row.ok and "NaN/Inf" in row.reason


_STARTUP_PROBE = """
import importlib.util, json, sys, threading
spec = importlib.util.spec_from_file_location("pt2", sys.argv[1])
child = importlib.util.module_from_spec(spec)
spec.loader.exec_module(child)
import torch
before = threading.active_count()
child.enable_startup()
after_enable = threading.active_count()
child._startup({"compile_timeout": 120})
child._startup({"compile_timeout": 120})  # once per process: the second call finds it done
print(json.dumps({
    "before": before,
    "after_enable": after_enable,
    "alive": child.STARTUP["thread"].is_alive(),
    "seconds": child.STARTUP.get("seconds"),
    "dynamo": "torch._dynamo" in sys.modules,
}))
"""


@torch_needed
def test_startup_runs_only_when_a_workload_needs_it_and_is_done_before_it() -> None:
    """Beside a timed row the start-up held the GIL and slowed it (a review measured 20x): enabling it
    starts nothing, and the workload that needs it waits for the whole of it."""
    child = Path(__file__).resolve().parents[1] / "src" / "gpusetup" / "verify" / "_pt2_child.py"
    done = subprocess.run(
        [sys.executable, "-c", _STARTUP_PROBE, str(child)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after_enable"] == seen["before"]  # no thread until a workload asks for it
    assert seen["alive"] is False and seen["seconds"] > 0 and seen["dynamo"] is True
