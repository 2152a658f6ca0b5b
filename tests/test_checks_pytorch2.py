"""PyTorch 2 readiness checks: each id from the one fact that breaks it, and the compile probe run for
real (real torch 2.13 with the compilers hidden; stub torch/triton packages and a stub ldconfig)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Severity
from gpusetup.doctor.registry import all_ids, run_checks
from gpusetup.facts.model import (
    CacheDirFacts,
    CompileFacts,
    CompilerFacts,
    Distribution,
    Facts,
    TorchDevice,
)
from gpusetup.facts.probe import probe_torch
from gpusetup.profiles.load import load_profiles
from gpusetup.profiles.model import Profiles
from tests.conftest import facts_fixture
from tests.fakes.stub_envs import TORCH_CPU, site_packages

Mutation = Callable[[Facts], None]
_PROFILES = load_profiles()
TRITON_PIN = 'triton==3.1.0; platform_system == "Linux" and platform_machine == "x86_64"'


def _healthy_compile() -> CompileFacts:
    return CompileFacts(
        inductor_cxx=CompilerFacts("g++", "default", "/usr/bin/g++", True, "g++ 12.2.0"),
        triton_cc=CompilerFacts("/usr/bin/gcc", "gcc", "/usr/bin/gcc", True, "gcc 12.2.0"),
        python_include="/opt/py/include/python3.11",
        python_h=True,
        triton_requires=[TRITON_PIN],
        triton_importable=True,
        triton_version="3.1.0",
        libcuda_via="ldconfig",
        libcuda_dirs=["/usr/lib/x86_64-linux-gnu"],
        libcuda_unversioned=["/usr/lib/x86_64-linux-gnu/libcuda.so"],
        caches=[
            CacheDirFacts("inductor", "/tmp/torchinductor_me", "default", True, True, "", "/"),
            CacheDirFacts("triton", "/home/me/.triton/cache", "default", False, True, "", "/"),
        ],
        flash_attention_built=True,
    )


@pytest.fixture
def ready() -> Facts:
    """The H100 fixture with the compile facts of a machine where torch.compile works."""
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.torch.compile = _healthy_compile()
    facts.torch.distributions.append(Distribution("triton", "3.1.0", "/opt/venv", "pip"))
    return facts


def _compile(**values: object) -> Mutation:
    def apply(f: Facts) -> None:
        assert f.torch.compile is not None
        for key, value in values.items():
            setattr(f.torch.compile, key, value)

    return apply


def _no_cxx(f: Facts) -> None:
    assert f.torch.compile is not None
    f.torch.compile.inductor_cxx = CompilerFacts(
        "g++", "default", None, False, "", "FileNotFoundError"
    )


def _cc_broken(f: Facts) -> None:
    assert f.torch.compile is not None
    f.torch.compile.triton_cc = CompilerFacts("cc-typo", "CC", None, False, "", "FileNotFoundError")


def _triton_installed(version: str, name: str = "triton") -> Mutation:
    def apply(f: Facts) -> None:
        f.torch.distributions = [d for d in f.torch.distributions if "triton" not in d.name]
        f.torch.distributions.append(Distribution(name, version, "/opt/venv", "pip"))

    return apply


def _both_tritons(f: Facts) -> None:
    f.torch.distributions.append(Distribution("pytorch-triton", "3.1.0+cf34004b8a", "", "pip"))


def _cache(index: int, **values: object) -> Mutation:
    def apply(f: Facts) -> None:
        assert f.torch.compile is not None
        for key, value in values.items():
            setattr(f.torch.compile.caches[index], key, value)

    return apply


def _gpu_capability(capability: str) -> Mutation:
    def apply(f: Facts) -> None:
        for gpu in f.gpus:
            gpu.compute_capability = capability

    return apply


CASES: Dict[str, List[Tuple[Mutation, Severity]]] = {
    "inductor-no-compiler": [(_no_cxx, Severity.ERROR), (_cc_broken, Severity.ERROR)],
    "triton-missing": [
        (
            _compile(
                triton_importable=False,
                triton_error="ModuleNotFoundError: No module named 'triton'",
            ),
            Severity.ERROR,
        )
    ],
    "triton-version-mismatch": [
        (_triton_installed("3.0.0"), Severity.ERROR),
        (_triton_installed("3.1.0+cf34004b8a", "pytorch-triton"), Severity.ERROR),
        (_both_tritons, Severity.ERROR),
    ],
    "triton-no-python-headers": [(_compile(python_h=False), Severity.ERROR)],
    "triton-libcuda-not-found": [
        (_compile(libcuda_unversioned=[]), Severity.ERROR),
        (_compile(libcuda_via="", libcuda_dirs=[], libcuda_unversioned=[]), Severity.ERROR),
    ],
    "compile-cache-not-writable": [
        (_cache(0, writable=False, error="PermissionError"), Severity.ERROR),
        (_cache(1, noexec=True, mount_point="/home"), Severity.ERROR),
    ],
    "bf16-unsupported": [(_gpu_capability("7.5"), Severity.WARNING)],
    "flash-attention-unavailable": [
        (_gpu_capability("7.0"), Severity.INFO),
        (_compile(flash_attention_built=False), Severity.INFO),
    ],
}


def _params() -> List[object]:
    return [
        pytest.param(fid, mut, sev, id=f"{fid}-{i}")
        for fid, cases in CASES.items()
        for i, (mut, sev) in enumerate(cases)
    ]


def test_every_pytorch2_id_is_registered_and_has_a_case() -> None:
    assert set(CASES) <= set(all_ids())


def test_ready_machine_has_no_findings(ready: Facts, profiles: Profiles) -> None:
    assert run_checks(Context(ready, profiles)) == []


@pytest.mark.parametrize(("finding_id", "mutate", "severity"), _params())
def test_mutation_triggers_finding(
    finding_id: str, mutate: Mutation, severity: Severity, ready: Facts, profiles: Profiles
) -> None:
    mutate(ready)
    found = [f for f in run_checks(Context(ready, profiles)) if f.id == finding_id]
    assert found, f"{finding_id} not reported"
    assert found[0].severity == severity
    assert found[0].fix and found[0].title and "\n" not in found[0].title


def test_compiler_fix_names_the_distros_package_manager(ready: Facts, profiles: Profiles) -> None:
    _no_cxx(ready)
    ubuntu = [f for f in run_checks(Context(ready, profiles)) if f.id == "inductor-no-compiler"]
    assert ubuntu[0].fix.startswith("sudo apt install build-essential")
    ready.host.distro = "Rocky Linux 9.3 (Blue Onyx)"
    rocky = [f for f in run_checks(Context(ready, profiles)) if f.id == "inductor-no-compiler"]
    assert rocky[0].fix.startswith("sudo dnf install gcc gcc-c++")
    ready.torch.conda_env = True
    conda = [f for f in run_checks(Context(ready, profiles)) if f.id == "inductor-no-compiler"]
    assert conda[0].fix.startswith("conda install -c conda-forge gcc gxx")


def test_triton_pin_for_another_platform_is_not_judged(ready: Facts, profiles: Profiles) -> None:
    ready.host.machine = "aarch64"
    _triton_installed("3.0.0")(ready)
    assert "triton-version-mismatch" not in {f.id for f in run_checks(Context(ready, profiles))}


def test_cpu_build_is_not_asked_for_triton_or_libcuda(ready: Facts, profiles: Profiles) -> None:
    ready.torch.cuda_build = None
    _compile(triton_importable=None, libcuda_via="", libcuda_unversioned=[], python_h=False)(ready)
    ready.torch.compile.triton_cc = CompilerFacts()  # type: ignore[union-attr]
    found = {f.id for f in run_checks(Context(ready, profiles))}
    assert found == {"torch-cpu-build"}  # the CPU build itself is the finding, not its Triton


def test_old_facts_without_compile_facts_give_no_pytorch2_findings(profiles: Profiles) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    assert facts.torch.compile is None
    assert not {f.id for f in run_checks(Context(facts, profiles))} & set(CASES)


def test_flash_uses_torch_devices_when_nvml_has_none(ready: Facts, profiles: Profiles) -> None:
    ready.gpus = []
    ready.torch.devices = [TorchDevice(0, "Tesla V100-SXM2-16GB", "7.0")]
    found = {f.id: f for f in run_checks(Context(ready, profiles))}
    assert "memory-efficient" in found["flash-attention-unavailable"].title
    assert "bf16-unsupported" in found


FLASH_BY_RELEASE = [  # (torch, GPU capability, flash finding?, SDPA's kernel instead); rules/sdpa.py
    ("2.0.1+cu118", "9.0", True, "memory-efficient"),  # 2.0: sm75 and sm8x only
    ("2.1.2+cu121", "7.5", False, ""),  # FlashAttention 1 ran on Turing
    ("2.2.0+cu121", "7.5", True, "memory-efficient"),  # FlashAttention 2 needs sm80
    ("2.6.0+cu126", "10.0", True, "math"),  # neither flash nor mem-efficient above sm90 yet
    ("2.7.1+cu128", "12.0", False, ""),
    ("2.7.1+cu128", "12.1", True, "math"),  # sm121 arrived in 2.8, for mem-efficient too
    ("2.8.0+cu128", "12.1", False, ""),
    ("2.13.0+cu130", "10.3", False, ""),
]


@pytest.mark.parametrize(("torch", "capability", "found", "instead"), FLASH_BY_RELEASE)
def test_flash_rule_follows_the_installed_torch(
    torch: str, capability: str, found: bool, instead: str, ready: Facts, profiles: Profiles
) -> None:
    ready.torch.version = torch
    ready.torch.arch_list = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    _gpu_capability(capability)(ready)
    flash = [
        f for f in run_checks(Context(ready, profiles)) if f.id == "flash-attention-unavailable"
    ]
    assert bool(flash) is found
    if found:
        assert f"SDPA runs {instead} instead" in flash[0].title
        backends = flash[0].evidence["backends"]
        assert backends[0] == instead and backends[-2:] == ["math", "flash: no"]


# ---- the probe, for real ----


def _hidden_compilers_env(tmp_path: Path) -> Dict[str, str]:
    """PATH without gcc/g++/clang (only a python link), CC/CXX unset."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "CXX")}
    env["PATH"] = str(bin_dir)
    return env


@pytest.mark.slow
def test_doctor_on_real_torch_with_compilers_hidden_reports_no_compiler(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = _hidden_compilers_env(tmp_path)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-m", "gpusetup", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    cxx = report["facts"]["torch"]["compile"]["inductor_cxx"]
    assert cxx["name"] == "g++" and cxx["runs"] is False and "FileNotFoundError" in cxx["error"]
    found = {f["id"]: f for f in report["findings"]}
    assert found["inductor-no-compiler"]["severity"] == "error"
    assert result.returncode == 1


@pytest.mark.slow
def test_probe_on_real_torch_finds_this_machines_compiler() -> None:
    torch = probe_torch(sys.executable)
    assert torch.status == "ok" and torch.compile is not None, torch.error
    assert torch.compile.inductor_cxx.via in ("default", "CXX")
    assert torch.compile.inductor_cxx.runs is True
    assert torch.compile.python_h is True
    assert {c.kind for c in torch.compile.caches} == {"inductor", "triton"}


TORCH_CUDA = TORCH_CPU.replace('"2.4.1+cpu"', '"2.5.1+cu124"').replace(
    "cuda = None", 'cuda = "12.4"'
)
TRITON_300 = '__version__ = "3.0.0"\n'


def _stub_cuda_env(root: Path) -> Path:
    """A venv with a stub CUDA torch that pins triton 3.1.0 and a stub triton 3.0.0 beside it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = site_packages(python)
    for name, version, source, requires in (
        ("torch", "2.5.1+cu124", TORCH_CUDA, f"Requires-Dist: {TRITON_PIN}\n"),
        ("triton", "3.0.0", TRITON_300, ""),
    ):
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(source)
        dist = site / f"{name}-{version.split('+')[0]}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires}"
        )
    return python


def _stub_ldconfig(tmp_path: Path, lib_dir: Path) -> Path:
    """An ldconfig -p that lists only the versioned libcuda.so.1, as in many containers."""
    lib_dir.mkdir()
    (lib_dir / "libcuda.so.1").write_text("")
    script = tmp_path / "ldconfig"
    script.write_text(
        "#!/bin/sh\necho '2 libs found in cache `/etc/ld.so.cache'\\'\n"
        f"echo '\tlibcuda.so.1 (libc6,x86-64) => {lib_dir}/libcuda.so.1'\n"
    )
    script.chmod(0o755)
    return script


@pytest.mark.slow
def test_stub_triton_mismatch_and_container_libcuda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profiles: Profiles
) -> None:
    python = _stub_cuda_env(tmp_path / "env")
    lib_dir = tmp_path / "lib"
    monkeypatch.setenv("GPUSETUP_LDCONFIG", str(_stub_ldconfig(tmp_path, lib_dir)))
    monkeypatch.delenv("TRITON_LIBCUDA_PATH", raising=False)
    torch = probe_torch(str(python))
    assert torch.status == "ok" and torch.compile is not None, torch.error
    assert torch.compile.triton_requires == [TRITON_PIN]
    assert torch.compile.triton_version == "3.0.0" and torch.compile.triton_importable
    assert torch.compile.libcuda_dirs == [str(lib_dir)] and torch.compile.libcuda_unversioned == []
    facts = facts_fixture("handmade-h100-sxm-cu124.json")  # an H100 host around the stub env
    facts.torch = torch
    found = {f.id: f for f in run_checks(Context(facts, profiles))}
    assert "triton==3.1.0" in found["triton-version-mismatch"].fix
    assert "cannot find -lcuda" in found["triton-libcuda-not-found"].title
    assert (
        f"ln -s {lib_dir}/libcuda.so.1 {lib_dir}/libcuda.so"
        in found["triton-libcuda-not-found"].fix
    )
    (lib_dir / "libcuda.so").symlink_to(lib_dir / "libcuda.so.1")
    fixed = probe_torch(str(python))
    assert fixed.compile is not None and fixed.compile.libcuda_unversioned == [
        str(lib_dir / "libcuda.so")
    ]


@pytest.mark.slow
def test_cache_dir_on_unwritable_path_is_found_by_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("")
    blocked = tmp_path / "a-file" / "cache"  # cannot be created, not even by root
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(blocked))
    python = _stub_cuda_env(tmp_path / "env")
    torch = probe_torch(str(python))
    assert torch.compile is not None
    inductor = next(c for c in torch.compile.caches if c.kind == "inductor")
    assert inductor.via == "TORCHINDUCTOR_CACHE_DIR" and inductor.writable is False


def test_compile_facts_replay_through_doctor_facts(ready: Facts, tmp_path: Path) -> None:
    from gpusetup.cli import app
    from gpusetup.plumbing.codec import to_jsonable
    from tests.conftest import make_runner

    _no_cxx(ready)
    saved = tmp_path / "facts.json"
    saved.write_text(json.dumps(to_jsonable(ready)))
    runner = make_runner()
    shown = runner.invoke(app, ["doctor", "--facts", str(saved)])
    assert shown.exit_code == 1 and "torch.compile: C++ g++ (does not run)" in shown.stdout
    report = json.loads(runner.invoke(app, ["doctor", "--facts", str(saved), "--json"]).stdout)
    assert report["facts"]["torch"]["compile"]["inductor_cxx"]["runs"] is False
    assert "inductor-no-compiler" in {f["id"] for f in report["findings"]}


@given(requires=st.lists(st.text(max_size=80), max_size=4), installed=st.text(max_size=20))
@settings(max_examples=60, deadline=None)
def test_any_recorded_triton_requirement_is_judged_without_crashing(
    requires: List[str], installed: str
) -> None:
    facts = facts_fixture("handmade-h100-sxm-cu124.json")
    facts.torch.compile = _healthy_compile()
    facts.torch.compile.triton_requires = requires
    facts.torch.distributions.append(Distribution("triton", installed, "", "pip"))
    for finding in run_checks(Context(facts, _PROFILES)):
        assert finding.title and "\n" not in finding.title
