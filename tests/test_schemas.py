"""The JSON Schema files in the package describe the real --json outputs, every key of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

import gpusetup
from gpusetup.cli import app
from tests.conftest import FACT_FILES, make_runner
from tests.jsonschema_subset import Validator

runner = make_runner()
SCHEMAS = Path(gpusetup.__file__).parent / "schemas"
ROOT = Path(__file__).resolve().parents[1]
closed = Validator(SCHEMAS, closed=True)  # every key documented
published = Validator(SCHEMAS)  # what a consumer validates with: open to additions


def _valid(name: str, document: Any) -> None:
    assert closed.errors(name, document) == []
    assert published.errors(name, document) == []
    _with_jsonschema(name, document)


def _with_jsonschema(name: str, document: Any) -> None:
    """The reference implementation agrees, where it is installed (requirements-test.txt)."""
    try:
        import jsonschema
        from referencing import Registry, Resource
    except ImportError:
        return
    registry: Any = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in published.schemas.values()
    )
    validator = jsonschema.Draft202012Validator(published.schemas[name], registry=registry)
    assert [e.message for e in validator.iter_errors(document)] == []


def _run(args: List[str]) -> Dict[str, Any]:
    result = runner.invoke(app, args)
    document = json.loads(result.stdout)
    assert document["exit_code"] == result.exit_code
    return dict(document)


def test_every_schema_is_draft_2020_12_with_an_id() -> None:
    names = sorted(p.name for p in SCHEMAS.glob("*.json"))
    assert names == [
        "doctor.json", "error.json", "facts.json", "install.json", "profiles.json", "report.json",
        "verify.json",
    ]  # fmt: skip
    for name in names:
        schema = json.loads((SCHEMAS / name).read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith("/" + name)
    try:
        import jsonschema
    except ImportError:
        return
    for schema in published.schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_facts_schema_is_derived_from_the_facts_model() -> None:
    """facts.json is written by scripts/facts_schema.py; a new field without it fails here."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "facts_schema.py"), "--check"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda p: p.name)
def test_doctor_replays_match_the_schema(path: Path) -> None:
    _valid("doctor.json", _run(["doctor", "--facts", str(path), "--json"]))


@pytest.mark.parametrize(
    "args",
    [
        ["--cuda", "cpu", "--torch", "2.4.1", "--python-version", "3.11"],
        ["--cuda", "12.4", "--driver", "550.54.15", "--arch", "sm_90", "--python-version", "3.11"],
        ["--cuda", "auto", "--driver", "535.104.05", "--arch", "sm_80", "--explain"],
        ["--torch", "2.1.2", "--cuda", "11.8", "--packages", "torch", "--python-version", "3.10"],
    ],
)
def test_install_dry_run_plans_match_the_schema(args: List[str]) -> None:
    document = _run(["install", "--dry-run", "--json", "--platform", "linux_x86_64", *args])
    assert document["status"] == "planned"
    _valid("install.json", document)


def test_report_on_the_fixtures_matches_the_schema() -> None:
    _valid("report.json", _run(["report", *map(str, FACT_FILES), "--json"]))


def test_profiles_validate_matches_the_schema() -> None:
    _valid("profiles.json", _run(["profiles", "validate", "--json"]))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("doctor", ["doctor", "--facts", "/nonexistent.json"]),
        ("install", ["install", "--cuda", "abc"]),
        ("verify", ["verify", "--dtype", "fp7"]),
        ("report", ["report", "/nonexistent.json"]),
        ("profiles", ["profiles", "validate", "/nonexistent"]),
    ],
)
def test_failures_match_the_error_envelope_and_the_command_schema(
    name: str, args: List[str]
) -> None:
    document = _run([*args, "--json"])
    assert document["exit_code"] == 2 and document["schema"] == f"gpusetup.{name}/1"
    _valid("error.json", document)
    _valid(f"{name}.json", document)


@pytest.mark.slow
def test_verify_on_the_cpu_and_a_report_of_it_match_the_schemas(tmp_path: Path) -> None:
    document = _run(["verify", "--device", "cpu", "--dtype", "fp32", "--json"])
    assert document["results"] and document["mode"] == "quick"
    _valid("verify.json", document)
    saved = tmp_path / "verify.json"
    saved.write_text(json.dumps(document))
    _valid("report.json", _run(["report", str(saved), str(FACT_FILES[0]), "--json"]))


@pytest.mark.slow
def test_verify_without_a_gpu_runtime_is_the_error_envelope() -> None:
    document = _run(["verify", "--device", "all", "--json"])
    assert document["exit_code"] == 3 and "no usable GPU runtime" in document["error"]["message"]
    _valid("verify.json", document)


def test_the_validator_refuses_what_the_schemas_rule_out() -> None:
    good = _run(["doctor", "--facts", str(FACT_FILES[0]), "--json"])
    undocumented = {**good, "extra": 1}
    assert closed.errors("doctor.json", undocumented)  # every key must be documented...
    assert published.errors("doctor.json", undocumented) == []  # ...but consumers accept additions
    wrong_type = json.loads(json.dumps(good))
    wrong_type["facts"]["gpus"] = [{"index": "zero"}]
    assert any("is not integer" in e for e in published.errors("doctor.json", wrong_type))
    bad_severity = json.loads(json.dumps(good))
    bad_severity["findings"] = [
        {"id": "x", "severity": "fatal", "title": "", "evidence": {}, "fix": ""}
    ]
    assert published.errors("doctor.json", bad_severity)
    no_hint = {"schema": "gpusetup.doctor/1", "exit_code": 2, "error": {"message": "m"}}
    assert published.errors("error.json", no_hint) and published.errors("doctor.json", no_hint)
    assert published.errors(
        "error.json", {**no_hint, "exit_code": 0, "error": {"message": "m", "hint": ""}}
    )
