"""Device names -> GPU models: every real name in the table gets the model verify should judge it by.

Matching is order-free by design: `Profiles.gpu_model` returns the first model whose pattern matches,
and these tests require that at most one model's patterns match any name in the table, so the order
of profiles/gpus.yaml cannot change a verdict. A variant with numbers of its own (RTX 4090 D, 3090 Ti,
V100S, GH200) must match its own entry or nothing, never a sibling's peaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from gpusetup.profiles.model import GpusFile, Profiles
from gpusetup.verify.score import Floors, is_mig_slice, score

TABLE = Path(__file__).parent / "fixtures" / "device_names.txt"
NOT_JUDGED = "-"


def _rows() -> List[Tuple[str, str]]:
    """(device name, expected model or -) from the table; blank lines and # comments skipped."""
    rows = []
    for number, line in enumerate(TABLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, expected = line.partition("\t")
        assert sep and name == name.strip() and expected.strip(), f"{TABLE.name}:{number}: {line!r}"
        rows.append((name, expected.strip()))
    return rows


ROWS = _rows()


def _gpus(profiles: Profiles) -> GpusFile:
    assert profiles.gpus is not None, "profiles/gpus.yaml did not load"
    return profiles.gpus


def _judged_as(profiles: Profiles, name: str) -> Optional[str]:
    """The model verify scores this device against: none for a MIG slice (see verify/score.py)."""
    if is_mig_slice(name):
        return None
    model = profiles.gpu_model(name)
    return model.name if model else None


@pytest.mark.parametrize(("name", "expected"), ROWS, ids=[name for name, _ in ROWS])
def test_device_name_maps_to_its_model(profiles: Profiles, name: str, expected: str) -> None:
    want = None if expected == NOT_JUDGED else expected
    assert _judged_as(profiles, name) == want


@pytest.mark.parametrize(("name", "expected"), ROWS, ids=[name for name, _ in ROWS])
def test_no_device_name_matches_two_models(profiles: Profiles, name: str, expected: str) -> None:
    matching = [m.name for m in _gpus(profiles).models if m.matches(name)]
    assert len(matching) <= 1, f"{name!r} matches {matching}: the order of gpus.yaml would decide"


def test_table_names_only_models_that_exist(profiles: Profiles) -> None:
    known = {m.name for m in _gpus(profiles).models}
    assert {expected for _, expected in ROWS} - {NOT_JUDGED} <= known


def test_every_model_is_matched_by_a_real_name(profiles: Profiles) -> None:
    """A model no recorded name reaches has untested patterns: add its real device name to the table."""
    reached = {expected for _, expected in ROWS}
    missing = [m.name for m in _gpus(profiles).models if m.name not in reached]
    assert not missing, f"no device name in {TABLE.name} for {missing}"


def test_models_have_unique_names(profiles: Profiles) -> None:
    names = [m.name for m in _gpus(profiles).models]
    assert len(names) == len(set(names))


def test_new_entries_cite_a_source_and_say_what_to_reverify(profiles: Profiles) -> None:
    """Numbers not read in their primary source carry `re-verify` in their note."""
    models = {m.name: m for m in _gpus(profiles).models}
    for name in ("A10G", "L40", "RTX A6000", "H800", "RTX 4090 D"):
        assert models[name].source.startswith("https://"), name
        assert "re-verify" in models[name].note, name


def test_a_variant_does_not_take_its_siblings_peaks(profiles: Profiles) -> None:
    d = profiles.gpu_model("NVIDIA GeForce RTX 4090 D")
    full = profiles.gpu_model("NVIDIA GeForce RTX 4090")
    assert d is not None and full is not None and d.name != full.name
    assert d.peak_tflops["bf16"] < full.peak_tflops["bf16"]


def _result(name: str, benchmark: str, dtype: str, value: float, unit: str) -> Dict[str, Any]:
    """One child RESULT event, hand-made: a correct result of the given speed on GPU 0."""
    return {
        "gpu": 0,
        "name": name,
        "benchmark": benchmark,
        "dtype": dtype,
        "value": value,
        "unit": unit,
        "ok": True,
    }


def test_verify_scores_a_4090_d_against_its_own_peak(profiles: Profiles) -> None:
    # 150 TFLOP/s bf16 is 91 % of the 4090's peak but above the 4090 D's (147.1): its own entry.
    raw = [_result("NVIDIA GeForce RTX 4090 D", "matmul", "bf16", 150.0, "TFLOP/s")]
    (row,) = score(raw, profiles, Floors(), {}, {})
    assert row.ok and row.fraction_of_peak == pytest.approx(150.0 / 147.1, abs=1e-3)


def test_verify_judges_the_a10g_memory_but_not_its_unpublished_compute(profiles: Profiles) -> None:
    raw = [
        _result("NVIDIA A10G", "matmul", "bf16", 60.0, "TFLOP/s"),
        _result("NVIDIA A10G", "memory", "fp32", 200.0, "GB/s"),
    ]
    matmul, memory = score(raw, profiles, Floors(), {}, {})
    assert matmul.ok and matmul.floor is None and "not judged" in matmul.reason
    assert not memory.ok and memory.fraction_of_peak == pytest.approx(200.0 / 600, abs=1e-3)
