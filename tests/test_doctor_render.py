"""Checks and renderers on facts read from pastes: script-set variables, fabric manager, unknowns, Markdown."""

from __future__ import annotations

from typing import List

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.model import Facts
from gpusetup.profiles.model import Profiles
from tests.conftest import facts_fixture


def _findings(facts: Facts, profiles: Profiles, fid: str) -> List[Finding]:
    return [f for f in run_checks(Context(facts, profiles)) if f.id == fid]


def test_cuda_visible_devices_set_by_the_script_says_change_the_assignment(
    profiles: Profiles,
) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "7"  # hides the only GPU
    facts.host.env_set_by_script = ["CUDA_VISIBLE_DEVICES"]
    (finding,) = _findings(facts, profiles, "cuda-visible-devices")
    assert "unset" not in finding.fix.lower()
    assert "change that assignment" in finding.fix
    assert finding.evidence["set_by_script"] is True


def test_cuda_visible_devices_from_the_shell_may_be_unset(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.host.env["CUDA_VISIBLE_DEVICES"] = "7"
    (finding,) = _findings(facts, profiles, "cuda-visible-devices")
    assert finding.fix.startswith("unset CUDA_VISIBLE_DEVICES")
