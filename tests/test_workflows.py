"""The workflows and the action are valid YAML with the shape GitHub expects, and use the commands that exist."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_ci_workflow_covers_the_supported_pythons_and_the_wheel() -> None:
    ci = _load(ROOT / ".github/workflows/ci.yml")
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"] == [
        "3.9",
        "3.10",
        "3.11",
        "3.12",
        "3.13",
    ]
    package_steps = " ".join(str(s.get("run", "")) for s in ci["jobs"]["package"]["steps"])
    assert "gpusetup profiles list" in package_steps and "python -m build" in package_steps


def test_gpu_smoke_never_blocks_cpu_ci() -> None:
    smoke = _load(ROOT / ".github/workflows/gpu-smoke.yml")
    triggers = smoke[True] if True in smoke else smoke["on"]  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"workflow_dispatch", "pull_request"}
    assert "gpu" in smoke["jobs"]["smoke"]["runs-on"] and "gpu" in smoke["jobs"]["smoke"]["if"]


def test_action_runs_doctor_strict_verify_junit_and_writes_a_summary() -> None:
    action = _load(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    assert {"device", "mode", "min-fraction", "min-tflops", "junit", "python"} <= set(
        action["inputs"]
    )
    script = "\n".join(str(step.get("run", "")) for step in action["runs"]["steps"])
    assert (
        "gpusetup doctor --json" in script
        and "doctor --facts gpusetup-doctor.json $strict" in script
    )
    assert "gpusetup verify" in script and "--junit" in script
    assert "GITHUB_STEP_SUMMARY" in script and "gpusetup report --markdown" in script
    assert any(
        str(step.get("uses", "")).startswith("actions/upload-artifact")
        for step in action["runs"]["steps"]
    )
