"""A CUDA library of torch's missing a symbol (pytorch/pytorch#111469): how pastes are read, and what the
checks make of it with and without ldd's lines and LD_LIBRARY_PATH. The real reports are in
test_paste_real_reports.py; these cases are hand-made variations of them, one fact at a time."""

from __future__ import annotations

from typing import List

import pytest

from gpusetup.doctor.context import Context
from gpusetup.doctor.finding import Finding
from gpusetup.doctor.registry import run_checks
from gpusetup.errors import UsageError
from gpusetup.facts.model import Facts, LibraryDir, LoadedLibrary
from gpusetup.facts.paste import read_paste
from gpusetup.facts.status import ProbeStatus
from gpusetup.profiles.model import Profiles

SITE = "/home/u/venv/lib/python3.11/site-packages"
ERROR = (
    f"ImportError: {SITE}/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: "
    "undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12"
)


def _shadowing(facts: Facts, profiles: Profiles) -> List[Finding]:
    return [f for f in run_checks(Context(facts, profiles)) if f.id == "ld-library-path-shadowing"]


@pytest.mark.parametrize(
    "line",
    [
        ERROR,
        ERROR.replace("ImportError", "OSError"),
        ERROR.replace("ImportError: ", ""),  # an issue title quoting the message
        (
            f"OSError: {SITE}/nvidia/cudnn/lib/libcudnn_cnn_infer.so.8: cannot open shared object file: "
            "No such file or directory"
        ),
        (
            "OSError: /opt/venv/lib/python3.10/site-packages/torch/lib/libtorch_cuda.so: "
            "undefined symbol: ncclCommRegister"
        ),
    ],
)
def test_a_torch_library_failure_is_an_import_error(line: str) -> None:
    facts = read_paste(line + "\n")
    assert facts.torch.status == ProbeStatus.IMPORT_ERROR
    assert facts.torch.error.startswith(("ImportError: ", "OSError: "))
    assert facts.torch.error.endswith(
        line.split(": ", 1)[1] if line.startswith(("I", "O")) else line
    )


@pytest.mark.parametrize(
    "line",
    [
        "ImportError: /x/site-packages/torchvision/_C.so: undefined symbol: _ZN3c10...",  # torchvision's
        "ImportError: libGL.so.1: cannot open shared object file: No such file or directory",  # opencv's
        "ImportError: libcusparseLt_helper.txt: undefined symbol: x",  # not a shared object
        # the same CUDA libraries, loaded by something else than import torch
        (
            "nvidia-container-cli: initialization error: load library failed: libcuda.so.1: cannot open "
            "shared object file: no such file or directory: unknown."
        ),
        (
            "W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library "
            "'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file"
        ),
        "OSError: libcudart.so.11.0: cannot open shared object file: No such file or directory",
        (
            "Could not load library libcudnn_cnn_infer.so.8. Error: libcudnn_cnn_infer.so.8: cannot open "
            "shared object file: No such file or directory"
        ),  # cuDNN at run time: torch imported
        "ImportError: libcudnn.so.8: cannot open shared object file: No such file or directory",
        "I checked with pip list and torch is there, so why does it fail?",
        "Maybe run ldd libtorch_cuda.so",
    ],
)
def test_a_library_failure_that_is_not_torchs_is_not_read_as_one(line: str) -> None:
    try:
        facts = read_paste(line + "\n")
    except UsageError:
        return  # nothing else in it: refused, as it should be
    assert facts.torch.status != ProbeStatus.IMPORT_ERROR and facts.torch.error == ""


def test_a_torch_that_imported_keeps_its_status() -> None:
    paste = (
        "PyTorch version: 2.5.1+cu124\nIs debug build: False\nCUDA used to build PyTorch: 12.4\n"
    )
    facts = read_paste(paste + ERROR + "\n")
    assert facts.torch.status == ProbeStatus.OK and facts.torch.error == ""


def test_ldd_lines_are_the_cuda_libraries_the_loader_picks() -> None:
    paste = (
        f"$ ldd {SITE}/nvidia/cusparse/lib/libcusparse.so.12\n"
        "\tlinux-vdso.so.1 (0x00007ffebafed000)\n"
        "\tlibnvJitLink.so.12 => /usr/local/cuda-12.1/lib64/libnvJitLink.so.12 (0x000070ddad800000)\n"
        "\tlibcublasLt.so.12 => not found\n"
        "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x000070ddad400000)\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x000070ddc0d83000)\n" + ERROR + "\n"
    )
    facts = read_paste(paste)
    assert facts.torch.loaded_libraries == [
        LoadedLibrary("libnvJitLink", "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12")
    ]  # libc is no CUDA library
    assert facts.input.skipped == []  # every ldd line was read


def test_a_grepped_pip_list_states_the_family_and_its_wheels() -> None:
    paste = (
        "$ pip list | grep -E 'torch|nvidia'\n"
        "nvidia-nvjitlink-cu12    12.4.127\n"
        "torch                    2.5.1+cu124\n"
        "torchvision              0.20.1+cu124\n"
        "torch is great\n" + ERROR + "\n"  # prose, not a row
    )
    facts = read_paste(paste)
    assert [(d.name, d.version) for d in facts.torch.distributions] == [
        ("torch", "2.5.1+cu124"),
        ("torchvision", "0.20.1+cu124"),
    ]
    assert facts.torch.nvidia_wheels == {"nvidia-nvjitlink-cu12": "12.4.127"}
    assert facts.torch.torchvision_version == "0.20.1+cu124"
    assert facts.torch.version is None  # it did not import: no version of its own


def test_dunder_names_survive_the_paste_cleaning() -> None:
    facts = read_paste(ERROR + "\n")
    assert "__nvJitLinkComplete_12_4" in facts.torch.error


def test_ldd_resolving_from_ld_library_path_is_the_cause(h100: Facts, profiles: Profiles) -> None:
    h100.torch.status, h100.torch.error = ProbeStatus.IMPORT_ERROR, ERROR
    h100.toolkit.ld_library_path = [LibraryDir("/usr/local/cuda-12.1/lib64")]
    h100.torch.loaded_libraries = [
        LoadedLibrary("libnvJitLink", "/usr/local/cuda-12.1/lib64/libnvJitLink.so.12")
    ]
    (finding,) = _shadowing(h100, profiles)
    assert "the cause of the import error" in finding.title
    assert f"export LD_LIBRARY_PATH={SITE}/nvidia/nvjitlink/lib:$LD_LIBRARY_PATH" in finding.fix


def test_the_symbol_error_with_a_system_dir_on_ld_library_path(
    h100: Facts, profiles: Profiles
) -> None:
    h100.torch.status, h100.torch.error = ProbeStatus.IMPORT_ERROR, ERROR
    h100.toolkit.ld_library_path = [
        LibraryDir(f"{SITE}/nvidia/cudnn/lib"),  # a wheel's own directory is no shadow
        LibraryDir("/usr/local/cuda-12.1/lib64"),
    ]
    (finding,) = _shadowing(h100, profiles)
    assert finding.severity == "error"
    assert "libcusparse.so.12 needs a newer libnvJitLink" in finding.title
    assert finding.evidence["dirs"] == ["/usr/local/cuda-12.1/lib64"]
    assert f"{SITE}/nvidia/nvjitlink/lib" in finding.fix


def test_the_symbol_error_with_only_wheel_dirs_is_no_shadowing(
    h100: Facts, profiles: Profiles
) -> None:
    h100.torch.status, h100.torch.error = ProbeStatus.IMPORT_ERROR, ERROR
    h100.toolkit.ld_library_path = [LibraryDir(f"{SITE}/nvidia/nvjitlink/lib")]
    assert _shadowing(h100, profiles) == []
    (failed,) = [f for f in run_checks(Context(h100, profiles)) if f.id == "torch-import-failed"]
    assert "echo $LD_LIBRARY_PATH" in failed.fix and "gpusetup install" in failed.fix


def test_another_import_error_keeps_the_plain_reinstall(h100: Facts, profiles: Profiles) -> None:
    h100.torch.status = ProbeStatus.IMPORT_ERROR
    h100.torch.error = "ImportError: cannot import name 'Tensor' from partially initialized module"
    (failed,) = [f for f in run_checks(Context(h100, profiles)) if f.id == "torch-import-failed"]
    assert failed.fix.startswith("Reinstall the family together")


def test_a_session_showing_torch_at_work_keeps_its_status() -> None:
    paste = (
        ">>> torch.cuda.is_available()\nTrue\n"
        f"OSError: {SITE}/nvidia/cudnn/lib/libcudnn_cnn_infer.so.8: cannot open shared object file\n"
    )
    facts = read_paste(paste)
    assert facts.torch.status == ProbeStatus.OK and facts.torch.cuda_available is True


def test_ldd_of_another_program_is_not_what_torch_loads() -> None:
    paste = (
        "$ ldd ./build/my_kernel_test\n"
        "\tlibcudart.so.12 => /usr/local/cuda/lib64/libcudart.so.12 (0x00007f0000000000)\n"
        "$ echo $LD_LIBRARY_PATH\n/usr/local/cuda/lib64\n"
    )
    facts = read_paste(paste)
    assert facts.torch.loaded_libraries == []
    assert facts.input.skipped == []  # read, and known not to be torch's


def test_a_pip_list_states_no_nvml_bindings_as_a_cuda_wheel() -> None:
    facts = read_paste(
        "nvidia-ml-py             12.535.133\ntorch                    2.5.1\n" + ERROR
    )
    assert facts.torch.nvidia_wheels == {}


def test_a_torch_symbol_error_is_no_cuda_shadowing(h100: Facts, profiles: Profiles) -> None:
    """libtorch_python missing a torch symbol is a build mismatch; NVIDIA's container dirs hold libcuda."""
    h100.torch.status = ProbeStatus.IMPORT_ERROR
    h100.torch.error = f"ImportError: {SITE}/torch/lib/libtorch_python.so: undefined symbol: _ZNK5torch8autograd4Node4nameEv"
    h100.toolkit.ld_library_path = [
        LibraryDir("/usr/local/nvidia/lib"),
        LibraryDir("/usr/local/nvidia/lib64"),
    ]
    assert _shadowing(h100, profiles) == []


def test_the_driver_dirs_of_a_container_are_no_shadow(h100: Facts, profiles: Profiles) -> None:
    h100.torch.status, h100.torch.error = ProbeStatus.IMPORT_ERROR, ERROR
    h100.toolkit.ld_library_path = [LibraryDir("/usr/local/nvidia/lib64")]
    assert _shadowing(h100, profiles) == []


def test_a_dir_known_not_to_hold_the_library_is_no_shadow(h100: Facts, profiles: Profiles) -> None:
    h100.torch.status, h100.torch.error = ProbeStatus.IMPORT_ERROR, ERROR
    h100.toolkit.ld_library_path = [LibraryDir("/opt/cudnn/lib", ["libcudnn.so.8"])]
    # only the general warning that a CUDA library there could shadow one of the wheels'
    assert [(f.severity, "needs a newer" in f.title) for f in _shadowing(h100, profiles)] == [
        ("warning", False)
    ]
