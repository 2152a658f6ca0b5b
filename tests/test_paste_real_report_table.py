"""More real reports of issue #14's classes, as a table (test_paste_real_reports.py has the first set):
each paste goes through the CLI (`doctor --facts FILE --json`) as a user runs it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpusetup.cli import app
from tests.conftest import FIXTURES, make_runner

runner = make_runner()
CLASSES = FIXTURES / "paste-classes"


@dataclass(frozen=True)
class Case:
    """One real paste, the finding the thread's cause calls for, and the one that must not appear."""

    fixture: str
    expect: str | None = None
    forbid: str | None = None
    # Words the expected finding's fix must contain (the right advice) / must not (the wrong advice).
    fix_has: str | None = None
    fix_lacks: str | None = None
    # What doctor lacks today; None when it already gets the paste right.
    missing: str | None = None


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


CASES = [
    Case(
        "paste-classes/nvtrust-55-fabric-manager-curly-apostrophe.txt",
        expect="fabric-manager-version-mismatch",
    ),
    Case(
        "paste-classes/pytorch-112553-collect-env-2.1.0-cu121-driver-470-truncated.txt",
        expect="driver-too-old-for-torch",
    ),
    Case(
        "paste-classes/e4s-172-nvml-mismatch-container-prompt.txt",
        expect="nvml-version-mismatch",
        fix_has="image",
    ),
    Case(
        "paste-classes/gladia-928-cudnn-8.5.0-vs-8.4.1.txt",
        expect="cudnn-load-failed",
    ),
    Case(
        "paste-classes/pytorch-27745-collect-env-1.0.0-conda-pytorch-and-pip-torch-windows.txt",
        forbid="multiple-torch-installs",
    ),
]


def _param(case: Case) -> object:
    marks = [_xfail(case.missing)] if case.missing else []
    what = case.expect or f"not-{case.forbid}"
    return pytest.param(case, marks=marks, id=f"{Path(case.fixture).stem}:{what}")


def _findings(path: Path) -> list[dict[str, object]]:
    result = runner.invoke(app, ["doctor", "--facts", str(path), "--json"])
    assert result.exit_code in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["facts"]["input"]["kinds"], "the report must say which kind of input it read"
    findings: list[dict[str, object]] = report["findings"]
    return findings


def test_every_class_fixture_is_real_and_cited_table() -> None:
    for txt in sorted(CLASSES.glob("*.txt")):
        assert "handmade" not in txt.name, txt
        source = txt.with_suffix(".source").read_text(encoding="utf-8")
        assert "https://github.com/" in source and "verbatim" in source, txt


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_a_real_report_gets_its_class(case: Case) -> None:
    path = FIXTURES / case.fixture
    assert path.is_file(), path
    findings = _findings(path)
    ids = [str(f["id"]) for f in findings]
    if case.expect is not None:
        assert case.expect in ids, ids
    fixes = [str(f["fix"]).lower() for f in findings if f["id"] == case.expect]
    if case.fix_has is not None:
        assert fixes and all(case.fix_has in fix for fix in fixes), fixes
    if case.fix_lacks is not None:
        assert all(case.fix_lacks not in fix for fix in fixes), fixes
    if case.forbid is not None:
        assert case.forbid not in ids, ids


@pytest.mark.parametrize(
    ("fixture", "api"),
    [
        ("paste-classes/pytorch-112553-collect-env-2.1.0-cu121-driver-470-truncated.txt", 11040),
        ("paste/lhotse-793-collect-env-1.12.1-cu102-driver-too-old.txt", 9010),
    ],
    ids=["pytorch-112553", "lhotse-793"],
)
def test_a_real_report_states_the_driver_api_torch_found(fixture: str, api: int) -> None:
    result = runner.invoke(app, ["doctor", "--facts", str(FIXTURES / fixture), "--json"])
    assert result.exit_code in (0, 1), result.stderr
    assert json.loads(result.stdout)["facts"]["torch"]["driver_api_version"] == api
