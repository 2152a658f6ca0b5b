"""Adding a release changes only the decisions it should: a synthetic 2.16.0 on a copy of the real data."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Optional, Tuple, Union

import pytest

from gpusetup.errors import GpusetupError
from gpusetup.install.resolve import Machine, Request, resolve
from gpusetup.profiles.load import packaged_dir
from gpusetup.profiles.model import Profiles
from gpusetup.profiles.validate import validate_files
from gpusetup.versions import BuildVariant, ComputeCapability, DriverVersion
from tests.conftest import load_only

Outcome = Union[Tuple[str, BuildVariant, Tuple[str, ...]], str]


REAL = load_only(packaged_dir())
NEWEST = REAL.sorted_releases()[0]
SYNTHETIC = f"{NEWEST.version.major}.{NEWEST.version.minor + 1}.0"


def _with_synthetic(tmp_path: Path) -> Path:
    """The real files plus a copy of the newest release as the next minor, every fact confirmed."""
    for name in ("cuda.yaml", "torch.yaml", "gpus.yaml"):
        shutil.copy(packaged_dir() / name, tmp_path / name)
    torch = tmp_path / "torch.yaml"
    text = torch.read_text()
    start = text.index(f'- torch: "{NEWEST.torch}"')
    end = text.find("\n- torch:", start + 1)
    block = text[start : end + 1 if end > 0 else len(text)]
    block = block.replace(f'- torch: "{NEWEST.torch}"', f'- torch: "{SYNTHETIC}"')
    block = "".join(
        line for line in block.splitlines(True) if not line.startswith("  unconfirmed:")
    )
    block = block.replace("  confirmed: false", "  confirmed: true")
    torch.write_text(text.rstrip("\n") + "\n" + block)
    return tmp_path


def _outcome(request: Request, machine: Machine, profiles: Profiles) -> Outcome:
    try:
        plan = resolve(request, machine, profiles)
    except GpusetupError as err:
        return f"{type(err).__name__}"
    return (plan.torch, plan.variant, tuple(plan.packages))


MACHINES = [
    Machine(
        python=python,
        os=os_name,
        arch=arch,
        driver=DriverVersion.parse(driver),
        capabilities=(ComputeCapability.parse(cap),),
    )
    for python, (os_name, arch), driver, cap in itertools.product(
        ["3.10", "3.12", "3.14.1", "3.15"],
        [("linux", "x86_64"), ("linux", "aarch64"), ("windows", "x86_64")],
        ["535.104.05", "580.95.05", "595.45.04"],
        ["sm_70", "sm_87", "sm_90", "sm_120"],
    )
]
REQUESTS = [Request(), Request(torch="2.13"), Request(torch=">=2.14"), Request(cuda="cpu")]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Profiles, Profiles]:
    directory = _with_synthetic(tmp_path_factory.mktemp("profiles"))
    assert validate_files(sorted(directory.glob("*.yaml"))) == []
    return REAL, load_only(directory)


@pytest.mark.parametrize("request_", REQUESTS, ids=["unpinned", "2.13", ">=2.14", "cpu"])
def test_only_the_expected_decisions_change(
    both: Tuple[Profiles, Profiles], request_: Request
) -> None:
    before, after = both
    changed = 0
    for machine in MACHINES:
        old, new = _outcome(request_, machine, before), _outcome(request_, machine, after)
        if old == new:
            continue
        changed += 1
        pinned_out = request_.torch is not None and SYNTHETIC not in str(new)
        assert not pinned_out, (machine, old, new)
        # the only allowed change: the synthetic release now fits, with its model's companions
        assert isinstance(new, tuple) and new[0] == SYNTHETIC, (machine, old, new)
        assert new[1] in after.releases[SYNTHETIC].variants
        if isinstance(old, tuple) and old[0] == NEWEST.torch:
            assert new[2] == tuple(p.replace(NEWEST.torch, SYNTHETIC) for p in old[2])
    expected_changes: Optional[int] = 0 if request_.torch == "2.13" else None
    if expected_changes is not None:
        assert changed == expected_changes
    else:
        assert changed > 0  # the synthetic release is seen at all


def test_a_confirmed_newer_release_is_what_unpinned_installs_get(
    both: Tuple[Profiles, Profiles],
) -> None:
    _, after = both
    machine = Machine(
        python="3.12",
        driver=DriverVersion.parse("595.45.04"),
        capabilities=(ComputeCapability(9, 0),),
    )
    plan = resolve(Request(), machine, after)
    assert plan.torch == SYNTHETIC
    chosen = next(c for c in plan.candidates if c.torch == SYNTHETIC and c.variant == plan.variant)
    assert chosen.preferred  # its toolkit's own driver is met
