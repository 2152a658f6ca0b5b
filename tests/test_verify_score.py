"""verify's verdicts from recorded-style results: floors, overrides, causes, node outliers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from gpusetup.facts.model import Telemetry
from gpusetup.profiles.model import Profiles
from gpusetup.render.verify import progress_line, size_text
from gpusetup.verify.score import Floors, VerifyResult, score

RAW = json.loads(
    (Path(__file__).parent / "fixtures/verify/handmade-h100-sxm-raw.json").read_text()
)["results"]
PCIE = {0: (5, 16)}


def _raw() -> List[Dict[str, Any]]:
    return copy.deepcopy(RAW)


def _set(raw: List[Dict[str, Any]], benchmark: str, dtype: str, **values: Any) -> None:
    for r in raw:
        if (r["benchmark"], r["dtype"]) == (benchmark, dtype):
            r.update(values)


def test_healthy_h100_passes(profiles: Profiles) -> None:
    rows = score(_raw(), profiles, Floors(), PCIE, {})
    assert all(r.ok for r in rows), [r.reason for r in rows if not r.ok]
    bf16 = next(r for r in rows if (r.benchmark, r.dtype) == ("matmul", "bf16"))
    assert bf16.fraction_of_peak == pytest.approx(742.5 / 989.4, abs=1e-3)
    # default floor: peak x achieved 0.80 x floor factor 0.75
    assert bf16.floor == pytest.approx(989.4 * 0.80 * 0.75, abs=0.01)


def test_slow_gpu_fails_with_its_cause(profiles: Profiles) -> None:
    raw = _raw()
    _set(raw, "matmul", "bf16", value=402.0)
    telemetry = {
        0: Telemetry(
            pci_bus_id="00000000:18:00.0",
            samples=20,
            sm_clock_mhz=[1100] * 20,
            power_w=[250.0],
            temperature_c=[71],
            reasons=0x4,
            power_limit_w=250.0,
            power_default_limit_w=700.0,
        )
    }
    rows = score(raw, profiles, Floors(), PCIE, telemetry)
    bad = next(r for r in rows if (r.benchmark, r.dtype) == ("matmul", "bf16"))
    assert not bad.ok
    assert "< floor 593.6 (41% of peak)" in bad.reason
    assert "SwPowerCap active" in bad.reason and "250 W enforced vs 700 W default" in bad.reason
    assert VerifyResult("all", "quick", rows).exit_code == 1


def test_degraded_link_is_named_for_host_copies(profiles: Profiles) -> None:
    raw = _raw()
    _set(raw, "h2d", "fp32", value=3.1)
    telemetry = {
        0: Telemetry(pci_bus_id="x", samples=5, pcie_gen_max_seen=1, pcie_width_min_seen=16)
    }
    row = next(r for r in score(raw, profiles, Floors(), PCIE, telemetry) if r.benchmark == "h2d")
    assert not row.ok and "PCIe Gen1 x16 under load (capable of Gen5 x16)" in row.reason


def test_min_fraction_and_min_tflops_override_the_default(profiles: Profiles) -> None:
    rows = score(_raw(), profiles, Floors(min_fraction=0.8), PCIE, {})
    assert not next(
        r for r in rows if (r.benchmark, r.dtype) == ("matmul", "bf16")
    ).ok  # 75 % < 80 %
    rows = score(_raw(), profiles, Floors(min_tflops={"bf16": 800.0}), PCIE, {})
    bf16 = next(r for r in rows if (r.benchmark, r.dtype) == ("matmul", "bf16"))
    assert bf16.floor == 800.0 and not bf16.ok


def test_wrong_numbers_fail_whatever_the_speed(profiles: Profiles) -> None:
    raw = _raw()
    _set(
        raw,
        "matmul",
        "fp8",
        ok=False,
        reason="relative error 2.1e-01 vs fp64 exceeds 2e-01",
        error=0.21,
    )
    row = next(
        r
        for r in score(raw, profiles, Floors(), PCIE, {})
        if r.dtype == "fp8" and r.benchmark == "matmul"
    )
    assert not row.ok and "relative error" in row.reason


def test_unknown_model_is_reported_not_judged(profiles: Profiles) -> None:
    raw = _raw()
    for r in raw:
        r["name"] = "NVIDIA Quadro Something"
    rows = score(raw, profiles, Floors(), {}, {})
    assert all(r.ok and r.floor is None for r in rows)
    assert "no datasheet numbers" in rows[0].reason


def test_slowest_gpu_is_named_against_the_node_median(profiles: Profiles) -> None:
    raw = []
    for gpu, value in enumerate([742.0, 745.0, 741.0, 610.0]):
        row = copy.deepcopy(RAW[2])
        row.update(gpu=gpu, value=value)
        raw.append(row)
    rows = score(raw, profiles, Floors(), {}, {})
    assert "18% below the node median" in rows[3].reason
    assert all("node median" not in r.reason for r in rows[:3])


def test_gpus_of_another_model_are_not_node_outliers(profiles: Profiles) -> None:
    raw = []
    for gpu, (name, value) in enumerate(
        [("NVIDIA H100 80GB HBM3", 742.0)] * 2 + [("NVIDIA L4", 95.0)]
    ):
        row = copy.deepcopy(RAW[2])
        row.update(gpu=gpu, name=name, value=value)
        raw.append(row)
    rows = score(raw, profiles, Floors(), {}, {})
    assert all("node median" not in r.reason for r in rows)


def test_a_mig_slice_is_reported_not_judged_unless_given_a_floor(profiles: Profiles) -> None:
    raw = _raw()
    for r in raw:
        r["name"] = "NVIDIA H100 80GB HBM3 MIG 1g.10gb"
        r["value"] = r["value"] / 7 if r["value"] is not None else None  # a seventh of the GPU
    rows = score(raw, profiles, Floors(), PCIE, {})
    judged = [r for r in rows if r.value is not None]
    assert all(r.ok and r.floor is None and r.fraction_of_peak is None for r in judged)
    assert "MIG slice" in judged[0].reason
    floored = score(raw, profiles, Floors(min_tflops={"bf16": 500.0}), PCIE, {})
    bf16 = next(r for r in floored if (r.benchmark, r.dtype) == ("matmul", "bf16"))
    assert not bf16.ok and bf16.floor == 500.0


def test_skipped_rows_pass(profiles: Profiles) -> None:
    raw = [
        {
            "gpu": 0,
            "name": "Tesla T4",
            "benchmark": "matmul",
            "dtype": "fp8",
            "value": None,
            "unit": "TFLOP/s",
            "ok": True,
            "reason": "skipped: fp8 needs sm_89+",
        }
    ]
    (row,) = score(raw, profiles, Floors(), {}, {})
    assert row.skipped and row.ok


def test_json_report_names_its_host(profiles: Profiles) -> None:
    """The fleet view names nodes by this field."""
    result = VerifyResult(
        "all", "quick", score(_raw(), profiles, Floors(), PCIE, {}), host="gpu-node-07"
    )
    report = result.to_dict()
    assert report["host"] == "gpu-node-07" and report["schema"] == "gpusetup.verify/1"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        ({"m": 8192, "n": 8192, "k": 8192, "iters": 20}, "8192^3"),
        ({"m": 256, "n": 8192, "k": 4096}, "256x8192x4096"),
        ({"batch": 32, "channels": 256, "height": 56, "width": 56, "kernel": 3}, "32x256x56x56"),
        ({"bytes": 1 << 30, "counted": "read+write"}, "1,024 MiB"),
        ({}, ""),  # a skipped row
    ],
)
def test_the_table_shows_each_size_short(size: Dict[str, Any], text: str) -> None:
    assert size_text(size) == text


def test_progress_line_keeps_a_slow_rate_visible() -> None:
    """A slow CPU rate (fp8 emulation: ~0.0004 TFLOP/s) is shown, not rounded to 0."""
    line = progress_line(
        {
            "gpu": -1,
            "benchmark": "matmul",
            "dtype": "fp8",
            "value": 0.000412,
            "unit": "TFLOP/s",
            "ok": True,
        }
    )
    assert "0.00041 TFLOP/s" in line and "[ok]" in line
