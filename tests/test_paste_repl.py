"""A pasted Python session (`>>> torch.cuda.is_available()` / `False`): read into torch's facts, and
nothing more than it prints. The real report is abdbarho-348 in test_paste_real_reports.py; these are
hand-made variations, one prompt style or value at a time."""

from __future__ import annotations

import pytest

from gpusetup.doctor.context import Context
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.model import Unstated
from gpusetup.facts.paste import read_paste
from gpusetup.facts.status import ProbeStatus
from gpusetup.profiles.model import Profiles
from tests.conftest import FIXTURES


@pytest.mark.parametrize(
    "session",
    [
        (
            ">>> import torch\n>>> torch.__version__\n'2.1.0+cu121'\n>>> torch.version.cuda\n'12.1'\n"
            ">>> torch.cuda.is_available()\nFalse\n>>> torch.cuda.device_count()\n0\n"
        ),
        (
            "In [1]: import torch\nIn [2]: torch.__version__\nOut[2]: '2.1.0+cu121'\n"
            "In [3]: torch.version.cuda\nOut[3]: '12.1'\nIn [4]: torch.cuda.is_available()\nOut[4]: False\n"
            "In [5]: torch.cuda.device_count()\nOut[5]: 0\n"
        ),
        (
            ">>> import torch\n>>> print(torch.__version__)\n2.1.0+cu121\n>>> print(torch.version.cuda)\n12.1\n"
            ">>> print(torch.cuda.is_available())\nFalse\n>>> print(torch.cuda.device_count())\n0\n"
        ),
        # quoted in a reply: the quote marks go, the prompts stay
        (
            "> >>> torch.__version__\n> '2.1.0+cu121'\n> >>> torch.version.cuda\n> '12.1'\n"
            "> >>> torch.cuda.is_available()\n> False\n> >>> torch.cuda.device_count()\n> 0\n"
        ),
    ],
    ids=["python", "ipython", "print", "quoted"],
)
def test_a_session_states_what_it_prints(session: str) -> None:
    facts = read_paste(session)
    torch = facts.torch
    assert torch.status == ProbeStatus.OK
    assert (torch.version, torch.cuda_build) == ("2.1.0+cu121", "12.1")
    assert torch.cuda_available is False and torch.device_count == 0
    assert (
        Unstated.TORCH.value not in facts.input.unstated
    )  # version and build: the stack is stated
    assert facts.input.skipped == []


def test_none_printed_as_nothing_is_a_cpu_build() -> None:
    """The REPL prints nothing for None: the next prompt right after `torch.version.cuda`."""
    facts = read_paste(
        ">>> torch.__version__\n'2.1.0+cpu'\n>>> torch.version.cuda\n>>> torch.cuda.is_available()\nFalse\n"
    )
    assert facts.torch.cuda_build is None and "cuda_build" not in facts.torch.unavailable


def test_a_session_without_the_build_does_not_make_a_cpu_build() -> None:
    facts = read_paste(">>> import torch\n>>> torch.cuda.is_available()\nFalse\n")
    assert facts.torch.cuda_available is False
    assert "cuda_build" in facts.torch.unavailable
    assert Unstated.TORCH.value in facts.input.unstated


def test_a_traceback_under_a_prompt_is_not_a_value() -> None:
    with pytest.raises(Exception, match="not a report doctor can read"):
        read_paste(">>> torch.cuda.is_available()\nTraceback (most recent call last):\n")


def test_a_plain_quote_is_still_unquoted() -> None:
    facts = read_paste("> >> Driver Version: 535.104.05\n> CUDA Version: 12.2\n")
    assert facts.driver.version == "535.104.05"


@pytest.mark.parametrize(("available", "named"), [("False", True), ("True", False)])
def test_no_cuda_asks_for_the_container_variables(
    available: str, named: bool, profiles: Profiles
) -> None:
    facts = read_paste(f">>> import torch\n>>> torch.cuda.is_available()\n{available}\n")
    (host,) = [
        f
        for f in run_checks(Context(facts, profiles))
        if f.id == "not-in-report" and f.evidence["area"] == "host"
    ]
    assert ("NVIDIA_DRIVER_CAPABILITIES" in host.fix) is named


def test_a_cpu_build_is_its_own_explanation(profiles: Profiles) -> None:
    """A build known to be CPU-only explains `False`: no container variables asked for, and the driver
    area waits on torch-cpu-build (a GPU would make it fire)."""
    facts = read_paste(
        ">>> torch.__version__\n'2.5.1+cpu'\n>>> torch.version.cuda\n>>> torch.cuda.is_available()\nFalse\n"
    )
    collect = {
        f.evidence["area"]: f
        for f in run_checks(Context(facts, profiles))
        if f.id == "not-in-report"
    }
    assert "NVIDIA_DRIVER_CAPABILITIES" not in collect["host"].fix
    assert "torch-cpu-build" in collect["driver"].evidence["checks"]


def test_a_cuda_build_does_not_wait_on_torch_cpu_build(profiles: Profiles) -> None:
    facts = read_paste(
        ">>> torch.__version__\n'2.5.1+cu124'\n>>> torch.version.cuda\n'12.4'\n"
        ">>> torch.cuda.is_available()\nFalse\n"
    )
    collect = {
        f.evidence["area"]: f
        for f in run_checks(Context(facts, profiles))
        if f.id == "not-in-report"
    }
    assert "torch-cpu-build" not in collect["driver"].evidence["checks"]
    assert "NVIDIA_DRIVER_CAPABILITIES" in collect["host"].fix


def test_a_session_after_an_nvidia_smi_table_states_torch() -> None:
    table = (FIXTURES / "paste" / "gpu-operator-356-nvidia-smi-510.txt").read_text(encoding="utf-8")
    facts = read_paste(
        table + "\n>>> torch.__version__\n'1.12.0+cu113'\n>>> torch.version.cuda\n'11.3'\n"
    )
    assert Unstated.TORCH.value not in facts.input.unstated
    assert facts.input.kinds == ["nvidia-smi"]
