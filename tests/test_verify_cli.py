"""verify end to end: the CPU path with real torch, planted corruption, fatal paths, bad input."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from gpusetup.cli import app
from gpusetup.errors import UsageError
from gpusetup.profiles.model import Profiles
from gpusetup.verify.child import run_child
from gpusetup.verify.config import parse_devices
from gpusetup.verify.score import Floors, VerifyResult, score
from tests.conftest import make_runner, torch_cuda_build
from tests.fakes.nvml import FakeGpu, FakeNvml
from tests.fakes.stub_envs import make_env

runner = make_runner()
torch_needed = pytest.mark.skipif(
    "torch" not in sys.modules and importlib.util.find_spec("torch") is None,
    reason="needs CPU torch (pip install torch==2.13.0)",
)


def _cpu_fp8() -> bool:
    """Whether this torch has a CPU fp8 GEMM, asked in a child (this process never imports torch)."""
    probe = (
        "import torch; one, t = torch.ones(()), torch.zeros(16, 16).to(torch.float8_e4m3fn); "
        "torch._scaled_mm(t, t.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)"
    )
    if importlib.util.find_spec("torch") is None:
        return False
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


cpu_fp8_needed = pytest.mark.skipif(not _cpu_fp8(), reason="this torch has no CPU fp8 GEMM")


@pytest.mark.slow
@torch_needed
@cpu_fp8_needed
def test_cpu_fp8_matmul_is_checked_against_fp64() -> None:
    result = runner.invoke(app, ["verify", "--device", "cpu", "--dtype", "fp8", "--json"])
    assert result.exit_code == 0, result.output
    (fp8,) = [r for r in json.loads(result.stdout)["results"] if r["benchmark"] == "matmul"]
    assert fp8["dtype"] == "fp8" and fp8["value"] > 0 and fp8["ok"]
    assert 0 < fp8["error_vs_fp64"] < 0.01  # bf16 output rounding, well inside the 5e-2 tolerance


@pytest.mark.slow
@torch_needed
def test_cpu_path_end_to_end(tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    result = runner.invoke(
        app, ["verify", "--device", "cpu", "--dtype", "fp32,bf16", "--json", "--junit", str(junit)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["schema"] == "gpusetup.verify/1" and report["passed"] is True
    (cpu,) = report["devices"]
    assert 0 < cpu["startup_seconds"] < report["seconds"]  # torch import: part of the time budget
    names = {(r["benchmark"], r["dtype"]) for r in report["results"]}
    assert {
        ("matmul", "fp32"),
        ("matmul", "bf16"),
        ("conv-fwd", "bf16"),
        ("conv-bwd", "bf16"),
        ("memory", "fp32"),
    } <= names
    for r in report["results"]:
        assert set(r) >= {
            "gpu",
            "name",
            "benchmark",
            "dtype",
            "value",
            "unit",
            "fraction_of_peak",
            "ok",
            "reason",
        }
        if r["benchmark"] in ("matmul", "conv-fwd", "conv-bwd"):
            assert r["error_vs_fp64"] < 0.03
    suites = ET.parse(junit).getroot()
    assert suites.tag == "testsuites"
    (suite,) = suites.findall("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "0")) == len(cases) == len(report["results"])
    assert int(suite.get("failures", "-1")) == 0
    assert all(c.get("classname") == "gpusetup.verify.cpu" and c.get("name") for c in cases)


@pytest.mark.slow
@torch_needed
@pytest.mark.parametrize(
    ("fault", "matmul_n", "caught_by"),
    [
        # the same wrong value in both runs: only the comparison with fp64 can see it
        ("matmul:fp32", None, "relative error"),
        ("conv-fwd:bf16", None, "relative error"),
        ("conv-bwd:fp32", None, "relative error"),
        # at a GPU-like size a norm over 512k values dilutes one error; the element check does not
        ("matmul:bf16", 2048, "off by"),
        # a wrong value in one run only: the repeat must differ
        ("matmul:bf16:once", None, "repeated gave different bits"),
        # fp8 runs through torch._scaled_mm, which CPU builds of torch 2.6+ also have
        pytest.param("matmul:fp8", None, "relative error", marks=cpu_fp8_needed),
        pytest.param("matmul:fp8:once", None, "repeated gave different bits", marks=cpu_fp8_needed),
    ],
)
def test_planted_corruption_is_caught(
    fault: str, matmul_n: Optional[int], caught_by: str, profiles: Profiles
) -> None:
    benchmark, dtype = fault.split(":")[:2]
    config: Dict[str, object] = {
        "devices": ["cpu"],
        "dtypes": [dtype],
        "benchmarks": [benchmark.split("-")[0]],
        "fault": fault,
    }
    if matmul_n:
        config["matmul_n"] = matmul_n
    run = run_child(sys.executable, config, timeout=120)
    rows = score(run.results, profiles, Floors(), {}, {})
    bad = next(r for r in rows if (r.benchmark, r.dtype) == (benchmark, dtype))
    assert not bad.ok and caught_by in bad.reason
    assert VerifyResult("cpu", "quick", rows).exit_code == 1


@pytest.mark.slow
@torch_needed
def test_a_floor_the_cpu_cannot_meet_fails_with_exit_1(tmp_path: Path) -> None:
    args = ["verify", "--device", "cpu", "--dtype", "bf16", "--min-tflops", "bf16=100000"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "FAIL" in result.output
    report = json.loads(runner.invoke(app, [*args, "--quick", "--json"]).stdout)
    matmul = next(r for r in report["results"] if r["benchmark"] == "matmul")
    assert not matmul["ok"] and "TFLOP/s < floor 1e+05" in matmul["reason"]


@pytest.mark.slow
@torch_needed
def test_no_usable_gpu_is_exit_3() -> None:
    """A CPU build says so; a CUDA build on this GPU-less machine fails its CUDA init."""
    result = runner.invoke(app, ["verify", "--device", "all"])
    why = "(cuda-init-failed)" if torch_cuda_build() else "(cpu-build)"
    assert result.exit_code == 3 and f"no usable GPU runtime {why}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    root = tmp_path_factory.mktemp("verify-envs")
    return {kind: str(make_env(root / kind, kind)) for kind in ("empty", "hangs")}


@pytest.mark.slow
def test_without_torch_verify_explains_and_exits_3(envs: Dict[str, str]) -> None:
    result = runner.invoke(app, ["verify", "--device", "cpu", "--python", envs["empty"]])
    assert (
        result.exit_code == 3
        and "torch is not installed" in result.stderr
        and "gpusetup install --cuda auto --python" in " ".join(result.stderr.split())
        and "gpusetup[verify]" not in result.stderr  # no such extra: the hint names the target
    )


@pytest.mark.slow
def test_a_hang_becomes_a_failure_with_its_cause(envs: Dict[str, str]) -> None:
    result = runner.invoke(
        app, ["verify", "--device", "cpu", "--python", envs["hangs"], "--timeout", "3", "--json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (
        report["results"][-1]["benchmark"] == "run"
        and "did not finish in time" in report["results"][-1]["reason"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "x"], "not a device list"),
        (["--device", "²"], "not a device list"),  # str.isdigit() says yes, int() says no
        (["--device", "0,0"], "named twice"),
        (["--dtype", "foo"], "unknown dtype foo"),
        (["--min-tflops", "bf16=abc"], "'abc' is not a number"),
        (["--min-tflops", "bf16"], "write it as DTYPE=TFLOPS"),
        (["--min-tflops", "int4=5"], "write it as DTYPE=TFLOPS"),
        (["--min-fraction", "7"], "must be a fraction of peak"),
        (["--junit", "/nonexistent/dir/verify.xml"], "does not exist"),
        (["--quick", "--full"], "exclude each other"),
    ],
)
def test_bad_input_exits_2(args: List[str], message: str) -> None:
    result = runner.invoke(app, ["verify", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr


def test_device_beyond_the_gpus_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """--device 7 on a one-GPU machine: NVML (faked at its seam) says there is one GPU."""
    monkeypatch.setattr("gpusetup.facts.nvml.load_pynvml", lambda: FakeNvml(gpus=[FakeGpu()]))
    result = runner.invoke(app, ["verify", "--device", "7"])
    assert result.exit_code == 2 and "GPU 7 does not exist; this machine has 1" in result.stderr


def test_visible_devices_limit_the_count() -> None:
    assert parse_devices("0,1", 2) == ["0", "1"]
    with pytest.raises(UsageError):
        parse_devices("1", 1)
    assert parse_devices("all", None) == ["all"]
