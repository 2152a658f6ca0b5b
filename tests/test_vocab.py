"""Closed vocabularies (NVML status, probe status, numpy status, dtypes, benchmarks) are enums that
read and write as the strings they always were: old facts files load to the same members, an unknown
value in a facts file is a one-line usage error, and a child's unknown name stays its own text."""

from __future__ import annotations

import ast
import contextlib
import json
from pathlib import Path
from typing import Any, List, Type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.cli import app
from gpusetup.doctor.checks.driver import nvml_failures
from gpusetup.doctor.context import Context
from gpusetup.errors import UsageError
from gpusetup.facts.model import DriverFacts, Facts, TorchFacts
from gpusetup.facts.status import NumpyStatus, NvmlStatus, ProbeStatus
from gpusetup.plumbing.codec import ShapeError, TextEnum, from_jsonable, to_jsonable
from gpusetup.profiles.model import Profiles
from gpusetup.verify.config import (
    DTYPES,
    FLOOR_WORKLOADS,
    QUICK_DTYPES,
    parse_dtypes,
    parse_min_tflops,
)
from gpusetup.verify.events import BadEvent, ChildFatal, ChildResult, decode
from gpusetup.verify.score import row_from_raw
from gpusetup.verify.vocab import (
    PT2_WORKLOADS,
    Benchmark,
    Dtype,
    EventKind,
    FatalKind,
    SdpaOutcome,
    named,
)
from tests.conftest import FACT_FILES, FIXTURES, facts_fixture, make_runner

runner = make_runner()
VOCABULARIES: List[Type[TextEnum]] = [
    NvmlStatus,
    ProbeStatus,
    NumpyStatus,
    Dtype,
    Benchmark,
    EventKind,
    FatalKind,
    SdpaOutcome,
]
MEMBERS = [m for vocabulary in VOCABULARIES for m in vocabulary]


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: f"{type(m).__name__}.{m.name}")
def test_a_member_is_its_string_wherever_it_is_written(member: TextEnum) -> None:
    assert member == member.value and str(member) == member.value and f"{member}" == member.value
    assert f"[{member:>20}]" == f"[{member.value:>20}]"
    assert json.dumps({"k": member, member: 1}) == json.dumps({"k": member.value, member.value: 1})


def _facts_with(nvml: NvmlStatus, status: ProbeStatus, numpy: NumpyStatus) -> Facts:
    return Facts(driver=DriverFacts(nvml=nvml), torch=TorchFacts(status=status, numpy_status=numpy))


@pytest.mark.parametrize("nvml", list(NvmlStatus))
def test_every_nvml_status_round_trips_through_the_facts_codec(nvml: NvmlStatus) -> None:
    text = json.dumps(to_jsonable(_facts_with(nvml, ProbeStatus.OK, NumpyStatus.OK)))
    assert f'"nvml": "{nvml.value}"' in text
    again = from_jsonable(Facts, json.loads(text))
    assert again.driver.nvml is nvml


@pytest.mark.parametrize("status", list(ProbeStatus))
@pytest.mark.parametrize("numpy", list(NumpyStatus))
def test_every_probe_and_numpy_status_round_trips(status: ProbeStatus, numpy: NumpyStatus) -> None:
    text = json.dumps(to_jsonable(_facts_with(NvmlStatus.OK, status, numpy)))
    again = from_jsonable(Facts, json.loads(text))
    assert again.torch.status is status and again.torch.numpy_status is numpy


def test_numpy_status_may_be_null() -> None:
    """None: numpy was not probed (facts from before the probe asked)."""
    again = from_jsonable(Facts, json.loads(json.dumps(to_jsonable(Facts()))))
    assert again.torch.numpy_status is None and again.torch.status is ProbeStatus.NOT_RUN


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda p: p.name)
def test_recorded_fixtures_load_to_the_members_their_strings_name(path: Path) -> None:
    raw = json.loads(path.read_text())
    raw = raw.get("facts", raw)
    facts = from_jsonable(Facts, raw)
    assert type(facts.driver.nvml) is NvmlStatus
    assert facts.driver.nvml is NvmlStatus(raw["driver"]["nvml"])
    assert facts.torch.status is ProbeStatus(raw["torch"]["status"])
    numpy = raw["torch"].get("numpy_status")
    assert facts.torch.numpy_status is (None if numpy is None else NumpyStatus(numpy))
    # written back, the same strings: a replayed report is byte for byte what was read
    assert to_jsonable(facts)["driver"]["nvml"] == raw["driver"]["nvml"]


def test_an_unknown_status_names_its_path_and_the_known_values() -> None:
    with pytest.raises(
        ShapeError, match=r"facts\.driver\.nvml: unknown value 'sunny' \(one of ok, "
    ):
        from_jsonable(Facts, {"driver": {"nvml": "sunny"}})
    with pytest.raises(ShapeError, match=r"facts\.torch\.status: expected a string, got int"):
        from_jsonable(Facts, {"torch": {"status": 3}})
    with pytest.raises(ShapeError, match=r"facts\.torch\.numpy_status: unknown value 'OK'"):
        from_jsonable(Facts, {"torch": {"numpy_status": "OK"}})  # the value, not the member name


def test_a_hand_edited_facts_file_with_an_unknown_status_exits_2(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "facts" / "handmade-h100-sxm-cu124.json").read_text())
    data["facts"]["driver"]["nvml"] = "kaput"
    path = tmp_path / "handmade-edited.json"
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["doctor", "--facts", str(path)])
    assert result.exit_code == 2
    assert "facts.driver.nvml: unknown value 'kaput'" in result.stderr
    assert "Traceback" not in result.output + result.stderr


@given(st.text(max_size=12), st.text(max_size=12))
def test_any_status_text_loads_or_is_a_usage_error(nvml: str, status: str) -> None:
    with contextlib.suppress(UsageError):
        facts = from_jsonable(Facts, {"driver": {"nvml": nvml}, "torch": {"status": status}})
        assert isinstance(facts.driver.nvml, NvmlStatus)
        assert isinstance(facts.torch.status, ProbeStatus)


def _result(benchmark: Any, dtype: Any) -> Any:
    payload = {"gpu": 0, "name": "NVIDIA H100", "benchmark": benchmark, "dtype": dtype, "ok": True}
    return decode("RESULT", json.dumps(payload))


def test_a_result_line_names_its_benchmark_and_dtype_as_members() -> None:
    event = _result("conv-bwd", "bf16")
    assert isinstance(event, ChildResult)
    assert event.benchmark is Benchmark.CONV_BWD and event.dtype is Dtype.BF16


@pytest.mark.parametrize(
    ("name", "dtype"),
    [("p2p", "to gpu1"), ("all_reduce", "fp32 64 MiB"), ("[/y]", "[red]fp32"), ("matmul", "FP32")],
)
def test_text_that_names_no_member_stays_the_childs_own(name: str, dtype: str) -> None:
    """A p2p direction, a collectives size, a name this gpusetup does not know: shown as given."""
    event = _result(name, dtype)
    assert isinstance(event, ChildResult)
    assert event.benchmark == name and event.dtype == dtype
    assert type(event.dtype) is str
    assert row_from_raw(event).to_dict()["dtype"] == dtype


def test_a_benchmark_that_is_not_text_is_a_bad_event() -> None:
    assert _result(["matmul"], "fp32") == BadEvent(
        "RESULT", "the benchmark printed a malformed RESULT line: benchmark: expected str, got list"
    )
    bad = _result("matmul", None)  # dtype is required: null is not a name
    assert isinstance(bad, BadEvent) and "dtype" in bad.reason


def test_recorded_rows_decode_to_members() -> None:
    raw = json.loads((FIXTURES / "verify" / "handmade-h100-sxm-raw.json").read_text())["results"]
    rows = [row_from_raw(r) for r in raw]
    assert rows and all(isinstance(r.benchmark, Benchmark) for r in rows)
    assert all(isinstance(r.dtype, Dtype) for r in rows if r.benchmark is Benchmark.MATMUL)
    assert [r.to_dict() for r in rows] == [
        row_from_raw(json.loads(json.dumps(r))).to_dict() for r in raw
    ]


def test_named_gives_the_member_or_the_text() -> None:
    assert named(Dtype, "fp8") is Dtype.FP8
    assert named(Dtype, "fp64") == "fp64" and not isinstance(named(Dtype, "fp64"), Dtype)


def test_dtype_options_are_members_with_the_same_messages() -> None:
    assert parse_dtypes(None, "full") == list(Dtype) == list(DTYPES)
    assert parse_dtypes(None, "quick") == list(QUICK_DTYPES) == ["fp32", "tf32", "bf16", "fp8"]
    chosen = parse_dtypes("BF16, fp8,bf16", "quick")
    assert chosen == [Dtype.BF16, Dtype.FP8] and all(type(d) is Dtype for d in chosen)
    with pytest.raises(UsageError) as err:
        parse_dtypes("fp32,int8", "quick")
    assert str(err.value) == "--dtype fp32,int8: unknown dtype int8"
    assert err.value.hint == "choose from fp32,tf32,fp16,bf16,fp8"


def test_min_tflops_keys_are_members_with_the_same_messages() -> None:
    floors = parse_min_tflops(["Attention=50", "bf16=500", "train-step=7"])
    assert floors == {Benchmark.ATTENTION: 50.0, Dtype.BF16: 500.0, Benchmark.TRAIN_STEP: 7.0}
    assert [type(k) for k in floors] == [Benchmark, Dtype, Benchmark]
    with pytest.raises(UsageError) as err:
        parse_min_tflops(["compile=3"])
    assert str(err.value) == (
        "--min-tflops compile=3: write it as DTYPE=TFLOPS or WORKLOAD=TFLOPS, e.g. bf16=500"
    )
    assert err.value.hint == "names: fp32, tf32, fp16, bf16, fp8, attention, train-step"


def test_the_floored_workloads_are_pytorch2_workloads_in_tflops() -> None:
    assert set(FLOOR_WORKLOADS) < set(PT2_WORKLOADS)
    assert Benchmark.COMPILE not in FLOOR_WORKLOADS  # a speedup over eager, not a rate
    assert PT2_WORKLOADS[-1] is Benchmark.COMPILE  # last: a hung compile ends the child


def test_the_pt2_child_runs_the_workloads_verify_names() -> None:
    """The child cannot import the enum; its own tuple must say the same names in the same order."""
    child = Path(__file__).resolve().parents[1] / "src/gpusetup/verify/_pt2_child.py"
    tree = ast.parse(child.read_text())
    workloads = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "WORKLOADS"
    )
    assert workloads == tuple(w.value for w in PT2_WORKLOADS)


NVML_FINDINGS = {  # nvml_failures' decision per status, on bare metal and in a container
    NvmlStatus.VERSION_MISMATCH: (["nvml-version-mismatch"], ["nvml-version-mismatch"]),
    NvmlStatus.NO_PERMISSION: (["nvml-no-permission"], ["nvml-no-permission"]),
    NvmlStatus.UNKNOWN: ([], ["nvml-unknown-error"]),
    NvmlStatus.GPU_LOST: (["gpu-lost"], ["gpu-lost"]),
}


@pytest.mark.parametrize("nvml", list(NvmlStatus))
@pytest.mark.parametrize("container", ["", "docker"])
def test_each_nvml_status_gives_its_one_finding(
    nvml: NvmlStatus, container: str, profiles: Profiles
) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.driver.nvml, facts.driver.nvml_error, facts.gpus = nvml, "NVML said so", []
    facts.host.container, facts.host.proc_driver_version = container, "550.54.15"
    found = list(nvml_failures(Context(facts, profiles)))
    bare, boxed = NVML_FINDINGS.get(nvml, ([], []))
    assert [f.id for f in found] == (boxed if container else bare)
    for finding in found:
        assert finding.evidence["nvml_error"] == "NVML said so"
    if nvml is NvmlStatus.VERSION_MISMATCH:
        assert found[0].evidence["kernel_module"] == "550.54.15"
        assert found[0].evidence["container"] == (container or None)
        assert ("Inside a container" in found[0].fix) == bool(container)


def test_fatal_and_event_kinds_are_members_and_an_unknown_fatal_kind_keeps_its_text() -> None:
    fatal = decode("FATAL", '{"kind": "bad-device", "error": "GPU 7 does not exist"}')
    assert isinstance(fatal, ChildFatal) and fatal.kind is FatalKind.BAD_DEVICE
    odd = decode("FATAL", '{"kind": "gpu-on-fire"}')
    assert isinstance(odd, ChildFatal) and odd.kind == "gpu-on-fire"
    assert not isinstance(odd.kind, FatalKind)
    assert decode("GOSSIP", "{}") is None and decode("done", "{}") is None  # kinds are exact
    assert decode("DONE", "{}") is None
    assert isinstance(decode("DONE", "not json"), BadEvent)  # DONE's payload is still read
    assert [k.value for k in EventKind] == ["DEVICE", "RESULT", "FATAL", "RANK", "SDPA", "DONE"]
