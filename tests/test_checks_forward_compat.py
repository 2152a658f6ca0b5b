"""cuda-compat-libs on GeForce fires on evidence of a forward-compat libcuda, never on a healthy native driver."""

from __future__ import annotations

from typing import List, Optional

import pytest

from gpusetup.doctor.context import Context
from gpusetup.doctor.registry import run_checks
from gpusetup.facts.model import Facts, LoadedLibrary
from gpusetup.profiles.model import Profiles
from tests.conftest import facts_fixture

# (driver, the CUDA nvidia-smi prints for it natively): R535 12.2, R545 12.3, R555 12.5, R565 12.7, R590 13.1
NATIVE = [
    ("535.104.05", "12.2"),
    ("545.23.08", "12.3"),
    ("555.42.06", "12.5"),
    ("565.57.01", "12.7"),
    ("590.44.01", "13.1"),
]


def _ids(facts: Facts, profiles: Profiles) -> List[str]:
    return [f.id for f in run_checks(Context(facts, profiles))]


def _rtx4090(driver: str, cuda: str, cuda_available: Optional[bool]) -> Facts:
    facts = facts_fixture("handmade-rtx4090-workstation.json")
    facts.driver.version, facts.driver.cuda_version = driver, cuda
    facts.host.proc_driver_version = driver
    facts.torch.loaded_libraries = [
        LoadedLibrary("libcuda", f"/usr/lib/x86_64-linux-gnu/libcuda.so.{driver}")
    ]
    facts.torch.cuda_available = cuda_available
    return facts


@pytest.mark.parametrize(("driver", "cuda"), NATIVE)
@pytest.mark.parametrize("cuda_available", [True, False, None])
def test_native_driver_on_a_geforce_is_not_forward_compat(
    profiles: Profiles, driver: str, cuda: str, cuda_available: Optional[bool]
) -> None:
    assert "cuda-compat-libs" not in _ids(_rtx4090(driver, cuda, cuda_available), profiles)


@pytest.mark.parametrize(("driver", "cuda"), [("535.104.05", "12.2"), ("545.23.06", "12.3")])
def test_the_driver_rows_make_nvml_s_cuda_native(
    profiles: Profiles, driver: str, cuda: str
) -> None:
    """NVIDIA's Table 3: 535.54.03 is CUDA 12.2 GA, 545.23.06 CUDA 12.3 GA."""
    version = Context(_rtx4090(driver, cuda, False), profiles).driver_version
    assert version is not None and str(profiles.max_cuda_for_driver(version)) == cuda


def test_a_libcuda_of_another_version_than_the_module_fires(profiles: Profiles) -> None:
    facts = _rtx4090("535.104.05", "12.2", False)
    compat = "/opt/image/lib/libcuda.so.565.57.01"
    facts.torch.loaded_libraries = [LoadedLibrary("libcuda", compat)]
    (finding,) = [f for f in run_checks(Context(facts, profiles)) if f.id == "cuda-compat-libs"]
    assert finding.evidence["libcuda_not_the_module"] == compat and compat in finding.fix


def test_nvml_above_native_counts_only_inside_a_container(profiles: Profiles) -> None:
    facts = _rtx4090("535.104.05", "12.8", False)
    facts.torch.loaded_libraries = []
    assert "cuda-compat-libs" not in _ids(facts, profiles)
    facts.host.container = "docker"
    (finding,) = [f for f in run_checks(Context(facts, profiles)) if f.id == "cuda-compat-libs"]
    assert finding.fix.startswith("On the host: upgrade the driver")


def test_working_cuda_is_never_forward_compat_trouble(profiles: Profiles) -> None:
    facts = _rtx4090("535.104.05", "12.8", True)
    facts.host.container = "docker"
    facts.torch.loaded_libraries = [LoadedLibrary("libcuda", "/x/libcuda.so.565.57.01")]
    assert "cuda-compat-libs" not in _ids(facts, profiles)
