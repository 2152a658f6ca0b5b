"""Decoders of user input: facts files, report files and profile directories end in one line and
exit 2 (or a finding), never exit 4, a hang or an endless read."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import gpusetup
from gpusetup.cli import app
from gpusetup.fleet import summary as fleet
from gpusetup.profiles import load
from tests.conftest import FIXTURES, make_runner

runner = make_runner()
SICK = json.loads((FIXTURES / "facts" / "handmade-a100-sick-node.json").read_text())
H100 = json.loads((FIXTURES / "facts" / "handmade-h100-sxm-cu124.json").read_text())
RAW = json.loads((FIXTURES / "verify" / "handmade-h100-sxm-raw.json").read_text())["results"]


def _write(tmp_path: Path, data: Any, name: str = "facts.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _changed(base: Any, change: Callable[[Any], None]) -> Any:
    data = copy.deepcopy(base)
    change(data["facts"])
    return data


def _one_line_exit_2(argv: List[str], message: str) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr
    assert result.stderr.count("\n") <= 2 and "internal error" not in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f["gpus"][0].update(name="A100\x00"), "facts.gpus[0].name: contains a NUL byte"),
        (
            lambda f: f["host"].update(kernel="\ud800"),
            "facts.host.kernel: contains a lone surrogate",
        ),
        (lambda f: f["gpus"][0].update(power_draw_w=1e999), "expected a finite number, got inf"),
        (lambda f: f["gpus"][0].update(power_draw_w=float("nan")), "expected a finite number"),
        (lambda f: f["gpus"][0].update(memory_total_mib=10**400), "number out of range"),
        (lambda f: f["host"]["env"].update({"A\x00": "1"}), "contains a NUL byte"),
        (lambda f: f["gpus"][0].update(compute_capability="1." + "9" * 5000), "compute capab"),
    ],
)
def test_hostile_values_in_facts(
    tmp_path: Path, change: Callable[[Any], None], message: str
) -> None:
    _one_line_exit_2(["doctor", "--facts", _write(tmp_path, _changed(SICK, change))], message)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f["toolkit"].update(cudnn_version="not-a-version"),
        lambda f: f["toolkit"].update(cudnn_version="9" * 5000),
        lambda f: f["driver"].update(version="5" * 5000),
        lambda f: f["torch"].update(version="2." + "9" * 5000),
        lambda f: f["host"]["env"].update(CUDA_VISIBLE_DEVICES="1" * 5000),
    ],
)
def test_versions_that_are_not_numbers_are_not_exit_4(
    tmp_path: Path, change: Callable[[Any], None]
) -> None:
    def both(facts: Any) -> None:
        facts["torch"].update(status="ok", cudnn_version=90100)
        change(facts)

    result = runner.invoke(app, ["doctor", "--facts", _write(tmp_path, _changed(SICK, both))])
    assert result.exit_code in (0, 1) and "internal error" not in result.stderr, result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"schema": "gpusetup.facts/1", "host": ' + b"9" * 5000 + b"}", "not JSON"),
        (b'{"schema": "gpusetup.facts/1", "host": {"hostname": "\xff"}}', "not UTF-8 text"),
    ],
)
def test_hostile_facts_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "facts.json"
    path.write_bytes(content)
    _one_line_exit_2(["doctor", "--facts", str(path)], message)


def _real(argv: List[str]) -> subprocess.CompletedProcess[str]:
    """A real process with a timeout: a FIFO opened for reading would block it forever."""
    env = {**os.environ, "PYTHONPATH": str(Path(gpusetup.__file__).parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "gpusetup", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_fifo_or_a_link_to_dev_zero_is_refused_not_read(tmp_path: Path) -> None:
    fifo, zero = tmp_path / "facts.json", tmp_path / "zero.json"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    for path, kind in ((fifo, "a FIFO"), (zero, "a device")):
        done = _real(["doctor", "--facts", str(path)])
        assert done.returncode == 2 and f"not a file ({kind})" in done.stderr


def test_a_hostile_profile_directory(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "a.yaml")
    done = _real(["doctor", "--no-probe", "--profiles", str(tmp_path)])
    assert done.returncode == 2 and "a.yaml: not a file (a FIFO)" in done.stderr
    (tmp_path / "a.yaml").unlink()
    (tmp_path / "a.yaml").symlink_to("/dev/zero")
    done = _real(["profiles", "validate", str(tmp_path)])
    assert done.returncode == 2 and "a.yaml: not a file (a device)" in done.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"schema: gpusetup.profiles/1\nkind: stacks\nx: \xff\xfe\n", "not UTF-8 text"),
        (
            b"schema: gpusetup.profiles/1\nkind: stacks\nstacks: " + b"[" * 3000 + b"]" * 3000,
            "nested too deeply",
        ),
        (b"schema: gpusetup.profiles/1\nkind: stacks\nstacks: " + b"9" * 5000, "4300 digits"),
        (b"schema: gpusetup.profiles/1\nkind: [stacks]\n", "kind must be one of"),
    ],
)
def test_hostile_profile_files(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "x.yaml").write_bytes(content)
    _one_line_exit_2(["profiles", "validate", str(tmp_path / "x.yaml")], message)


def test_markup_in_a_profile_string_is_text(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        'schema: gpusetup.profiles/1\nkind: stacks\nstacks:\n  - name: "[/x]team\\e"\n'
        "    torch: '2.4.1'\n    cuda: cu121\n"
    )
    result = runner.invoke(app, ["profiles", "list", "--profiles", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "[/x]team\\x1b: torch 2.4.1" in result.stdout


def _verify(host: str, results: List[Dict[str, Any]], **extra: Any) -> Dict[str, Any]:
    devices = [{"gpu": 0, "name": "NVIDIA H100 80GB HBM3", "torch": "2.4.1+cu124"}]
    return {
        "schema": "gpusetup.verify/1",
        "host": host,
        "passed": True,
        "results": results,
        "devices": devices,
        **extra,
    }


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"schema": "gpusetup.verify/1", "results": {"gpu": 0}}, "results: expected a list"),
        (_verify("n", ["row"]), "results[0]: expected a mapping, got a string"),
        (_verify("n", [{"gpu": "0", "value": 1.0}]), "results[0].gpu: expected an integer"),
        (_verify("n", [{"gpu": 10**30}]), "an integer out of range"),
        (_verify(["n"], []), "host: expected a string, got a list"),
        ({"schema": "gpusetup.doctor/1", "facts": [], "findings": []}, "facts: expected a mapping"),
        ({"schema": ["gpusetup.verify/1"]}, "schema list is not one gpusetup report reads"),
    ],
)
def test_report_inputs_of_the_wrong_type(
    tmp_path: Path, report: Dict[str, Any], message: str
) -> None:
    _one_line_exit_2(["report", _write(tmp_path, report, "node.json")], message)


def test_report_names_a_host_with_two_different_reports(tmp_path: Path) -> None:
    one = copy.deepcopy(H100)
    one["facts"]["host"]["hostname"] = host = "gpu-node-7"
    other = copy.deepcopy(one)
    other["facts"]["driver"]["version"] = "535.104.05"
    files = [_write(tmp_path, one, "a.json"), _write(tmp_path, other, "b.json")]
    report = json.loads(runner.invoke(app, ["report", *files, "--json"]).stdout)
    assert any(
        p.startswith(f"{host}: two doctor reports disagree on driver") for p in report["problems"]
    )
    same = runner.invoke(app, ["report", files[0], _write(tmp_path, one, "c.json"), "--json"])
    assert not any("disagree" in p for p in json.loads(same.stdout)["problems"])


@pytest.mark.parametrize("value", [float("nan"), 0.0, -3.0, float("inf")])
def test_report_flags_a_broken_throughput(tmp_path: Path, value: float) -> None:
    rows = [dict(r, ok=True, reason="") for r in copy.deepcopy(RAW)]
    rows[0]["value"] = value
    good = [dict(r, ok=True, reason="") for r in copy.deepcopy(RAW)]
    files = [_write(tmp_path, _verify("a", rows), "a.json")]
    files += [_write(tmp_path, _verify(h, good), f"{h}.json") for h in ("b", "c")]
    result = runner.invoke(app, ["report", *files, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(name))
    assert any(p.startswith("a gpu0 matmul fp32: ") and "broken" in p for p in report["problems"])
    assert not report["slow"]  # a broken value is not a speed: no median is moved by it


def test_report_loads_the_profiles_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[object] = []
    real = load.load_profiles

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(load, "load_profiles", counting)
    reports = [(f"n{i}.json", copy.deepcopy(H100)) for i in range(4)]
    for i, (_, data) in enumerate(reports):
        data["facts"]["host"]["hostname"] = f"n{i}"
    assert len(fleet.build_fleet(reports).nodes) == 4
    assert len(calls) == 1
