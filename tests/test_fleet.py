"""gpusetup report: many nodes' doctor/verify outputs in one table; skew and slow GPUs stand out."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from gpusetup.cli import app
from tests.conftest import FIXTURES, make_runner

runner = make_runner()
H100 = json.loads((FIXTURES / "facts" / "handmade-h100-sxm-cu124.json").read_text())
RAW = json.loads((FIXTURES / "verify" / "handmade-h100-sxm-raw.json").read_text())["results"]


def _doctor(tmp_path: Path, host: str, driver: str = "550.54.15") -> str:
    report = copy.deepcopy(H100)
    report["facts"]["host"]["hostname"] = host
    report["facts"]["driver"]["version"] = driver
    path = tmp_path / f"{host}-doctor.json"
    path.write_text(json.dumps(report))
    return str(path)


def _verify(tmp_path: Path, host: str, scale: float = 1.0) -> str:
    results: List[Dict[str, Any]] = []
    for r in copy.deepcopy(RAW):
        r.update(value=round(r["value"] * scale, 3), ok=True, reason="", fraction_of_peak=None)
        results.append(r)
    path = tmp_path / f"{host}-verify.json"
    path.write_text(
        json.dumps(
            {
                "schema": "gpusetup.verify/1",
                "host": host,
                "passed": True,
                "results": results,
                "devices": [{"gpu": 0, "name": "NVIDIA H100 80GB HBM3", "torch": "2.4.1+cu124"}],
            }
        )
    )
    return str(path)


def test_uniform_fleet_exits_0(tmp_path: Path) -> None:
    files = [f(tmp_path, h) for h in ("node-a", "node-b", "node-c") for f in (_doctor, _verify)]
    result = runner.invoke(app, ["report", *files])
    assert result.exit_code == 0, result.output
    assert "node-a" in result.output and "nothing stands out" in result.output


def test_skew_and_a_slow_gpu_stand_out(tmp_path: Path) -> None:
    files = [
        _doctor(tmp_path, "node-a"),
        _doctor(tmp_path, "node-b"),
        _doctor(tmp_path, "node-c", "535.104.05"),
    ]
    files += [
        _verify(tmp_path, "node-a"),
        _verify(tmp_path, "node-b"),
        _verify(tmp_path, "node-c", 0.7),
    ]
    result = runner.invoke(app, ["report", *files, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["schema"] == "gpusetup.report/1"
    assert any("535.104.05 on 1 node(s) (node-c)" in line for line in report["skew"])
    assert any(
        line.startswith("node-c gpu0") and "30% below the fleet median" in line
        for line in report["slow"]
    )
    assert not any(line.startswith(("node-a", "node-b")) for line in report["slow"])


def test_markdown_for_ci_summaries(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", _verify(tmp_path, "gpu-runner-1"), "--markdown"])
    assert result.exit_code == 0
    assert "| node | driver | CUDA | torch | GPUs | doctor | verify |" in result.stdout
    assert "| 0 | matmul | bf16 | 742.5 TFLOP/s |" in result.stdout


def test_doctor_facts_are_rediagnosed_with_todays_checks() -> None:
    result = runner.invoke(
        app, ["report", str(FIXTURES / "facts" / "handmade-a100-sick-node.json"), "--json"]
    )
    (node,) = json.loads(result.stdout)["nodes"]
    assert {"ecc-errors", "row-remap-pending"} <= set(node["doctor_errors"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("not json", "not JSON"),
        ('{"schema": "gpusetup.install/1"}', "is not one gpusetup report reads"),
        ('{"schema": "gpusetup.verify/9"}', "is not one gpusetup report reads"),
        ("[1, 2]", "is not one gpusetup report reads"),
    ],
)
def test_bad_report_files_exit_2(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "node.json"
    if content is not None:
        path.write_text(content)
    result = runner.invoke(app, ["report", str(path)])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_no_files_exit_2() -> None:
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 2 and "no report files given" in result.stderr


@pytest.mark.parametrize(
    ("kind", "envelope"),
    [
        ("doctor", {"schema": "gpusetup.doctor/1", "exit_code": 4, "error": {"message": "boom"}}),
        ("verify", {"schema": "gpusetup.verify/1", "exit_code": 3, "error": {"message": "no GPU"}}),
    ],
)
def test_a_run_that_ended_in_an_error_is_not_ok(
    tmp_path: Path, kind: str, envelope: Dict[str, Any]
) -> None:
    """A --json error envelope holds no report: the node is named, never shown as "ok"."""
    failed = tmp_path / "node9.json"
    failed.write_text(json.dumps(envelope))
    result = runner.invoke(app, ["report", _doctor(tmp_path, "node1"), str(failed), "--json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    (node,) = [n for n in document["nodes"] if n["name"] == "node9"]
    code = envelope["exit_code"]
    assert node["failed_runs"] == [
        f"{kind} did not finish (exit {code}): {envelope['error']['message']}"
    ]
    assert f"node9: {kind} did not finish" in " ".join(document["problems"])
    table = runner.invoke(app, ["report", _doctor(tmp_path, "node1"), str(failed)]).stdout
    row = next(line for line in table.splitlines() if line.startswith("node9"))
    assert "did not finish" in row and " ok " not in row
