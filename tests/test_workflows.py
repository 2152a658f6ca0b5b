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


def test_action_runs_gpusetup_from_its_own_venv_against_the_checked_python() -> None:
    action = _load(ROOT / "action.yml")
    steps = action["runs"]["steps"]
    install = str(steps[0].get("run", ""))
    assert "python3 -m venv" in install and '"$venv/bin/python" -m pip install' in install
    assert (
        "GITHUB_PATH" in install and "gpusetup-bin" in install
    )  # gpusetup, not the venv's python3
    script = "\n".join(str(step.get("run", "")) for step in steps)
    assert "inputs.python }} -m pip" not in script and "-m gpusetup" not in script
    assert script.count('--python "${{ inputs.python }}"') == 2  # doctor and verify


def _run_lines(job: dict) -> str:  # type: ignore[type-arg]
    return "\n".join(str(s.get("run", "")) for s in job["steps"])


def test_ci_installs_the_way_the_readme_says() -> None:
    ci = _load(ROOT / ".github/workflows/ci.yml")
    readme = (ROOT / "README.md").read_text()
    ci_run = (ROOT / ".ci/run").read_text()
    for command in (
        "python -m pip install -e . -r requirements-test.txt",
        "python -m pip install -r requirements-torch-cpu.txt",
    ):
        assert command in readme
        assert command in _run_lines(ci["jobs"]["test"]) and command in _run_lines(
            ci["jobs"]["lint"]
        )
        assert command.replace("python ", "python3 ", 1) in ci_run
    assert "[test]" not in ci_run + _run_lines(ci["jobs"]["test"]) + readme
    assert "download.pytorch.org/whl/cpu" in (ROOT / "requirements-torch-cpu.txt").read_text()


def test_ci_checks_the_wheel_and_the_sdist() -> None:
    package = _run_lines(_load(ROOT / ".github/workflows/ci.yml")["jobs"]["package"])
    assert "twine check --strict dist/*" in package
    assert "tar -xzf dist/gpusetup-*.tar.gz" in package and "-m pytest" in package
