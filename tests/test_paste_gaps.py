"""Lines people paste beside or instead of a report (fabric manager, NVML errors, env settings), read
into facts; an error-only paste is read as error-text, a text with nothing known is refused."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpusetup.cli import app
from gpusetup.errors import UsageError
from gpusetup.facts.model import Facts, Unstated
from gpusetup.facts.paste import read_paste
from gpusetup.facts.paste.clean import MAX_LINE, clean_lines
from gpusetup.facts.paste.host_signals import read_host_signals
from tests.conftest import make_runner

SRC = Path(__file__).resolve().parents[1] / "src"
PASTES = Path(__file__).resolve().parent / "fixtures" / "paste"

# Short hand-made excerpts, in the shapes the lines take in real threads.
FM_REFUSAL = (
    "May 04 10:00:01 dgx nv-fabricmanager[3228]: fabric manager NVIDIA GPU driver interface "
    "version 530.30.02 don't match with driver version 530.41.03. Please update with matching "
    "NVIDIA driver package.\n"
)
FM_FAILED = (
    "\u25cf nvidia-fabricmanager.service - NVIDIA fabric manager service\n"
    "     Loaded: loaded (/lib/systemd/system/nvidia-fabricmanager.service; enabled)\n"
    "     Active: failed (Result: exit-code) since Thu 2023-05-04 10:00:01 UTC; 2min ago\n"
    "    Process: 3228 ExecStart=/usr/bin/nv-fabricmanager -c /usr/share/nvidia/nvswitch/"
    "fabricmanager.cfg (code=exited, status=1/FAILURE)\n"
)


def read(text: str) -> Facts:
    return read_paste(text)


def test_fabric_manager_refusal_line() -> None:
    facts = read(FM_REFUSAL)
    fm = facts.host.fabric_manager
    assert (fm.version, facts.driver.version) == ("530.30.02", "530.41.03")
    assert "don't match with driver version 530.41.03" in fm.log_error
    assert fm.unit_state is None  # the log does not say the unit's state
    assert facts.input.kinds == ["error-text"] and facts.input.skipped == []


def test_fabric_manager_refusal_does_not_override_a_stated_driver() -> None:
    smi = "Driver Version                            : 535.104.05\n"
    facts = read("==============NVSMI LOG==============\n" + smi + FM_REFUSAL)
    assert facts.driver.version == "535.104.05"
    assert facts.host.fabric_manager.version == "530.30.02"


def test_doesnt_wording_of_later_releases() -> None:
    line = FM_REFUSAL.replace("don't", "doesn't")
    assert read(line).host.fabric_manager.version == "530.30.02"


@pytest.mark.parametrize(
    ("active", "state"),
    [
        ("failed (Result: exit-code) since Thu 2023-05-04", "failed"),
        ("inactive (dead)", "inactive"),
        ("active (running) since Mon 2024-01-01 00:00:00 UTC; 1 day ago", "active"),
    ],
)
def test_systemctl_status_block(active: str, state: str) -> None:
    text = FM_FAILED.replace(
        "failed (Result: exit-code) since Thu 2023-05-04 10:00:01 UTC; 2min ago", active
    )
    facts = read(text)
    assert facts.host.fabric_manager.unit_state == state
    assert facts.input.skipped == []  # the whole block was read


def test_active_line_of_another_unit_is_not_the_fabric_managers() -> None:
    text = "\u25cf docker.service - Docker\n     Active: failed (Result: exit-code)\n" + FM_REFUSAL
    assert read(text).host.fabric_manager.unit_state is None


def test_nv_fabricmanager_version_output() -> None:
    facts = read("$ nv-fabricmanager --version\nFabric Manager version is : 535.104.05\n")
    assert facts.host.fabric_manager.version == "535.104.05"


def test_nvml_version_mismatch_with_library_version() -> None:
    facts = read(
        "$ nvidia-smi\nFailed to initialize NVML: Driver/library version mismatch\n"
        "NVML library version: 535.129\n"
    )
    assert facts.driver.nvml == "version-mismatch"
    assert facts.driver.nvml_error.startswith("Failed to initialize NVML: Driver/library")
    assert "535.129" in facts.driver.nvml_error and facts.driver.nvml_version == "535.129"
    assert facts.driver.version is None  # NVML could not say


def test_nvrm_api_mismatch_names_the_kernel_module() -> None:
    facts = read(
        "[  12.3] NVRM: API mismatch: the client has the version 535.129.03, but\n"
        "Failed to initialize NVML: Driver/library version mismatch\n"
    )
    assert facts.driver.nvml == "version-mismatch"
    one = read(
        "NVRM: API mismatch: the client has the version 535.129.03, but this kernel module has "
        "the version 535.113.01.  Please make sure that this kernel module and all NVIDIA driver "
        "components have the same version.\n"
    )
    assert one.host.proc_driver_version == "535.113.01" and one.driver.nvml_version == "535.129.03"


def test_a_working_nvidia_smi_in_the_same_paste_wins_over_an_nvml_error() -> None:
    text = (
        "==============NVSMI LOG==============\n"
        "Driver Version                            : 535.104.05\n"
        "Failed to initialize NVML: Driver/library version mismatch\n"
    )
    assert read(text).driver.nvml == "ok"


def test_docker_run_env() -> None:
    facts = read(
        "$ docker run --rm --gpus all -e NVIDIA_DRIVER_CAPABILITIES=utility "
        '--env "CUDA_VISIBLE_DEVICES=0" -e HOME=/root img python -c "import torch"\n'
        "RuntimeError: Found no NVIDIA driver on your system.\n"
    )
    assert facts.host.env == {"NVIDIA_DRIVER_CAPABILITIES": "utility", "CUDA_VISIBLE_DEVICES": "0"}
    assert facts.host.env_set_by_script == ["NVIDIA_DRIVER_CAPABILITIES", "CUDA_VISIBLE_DEVICES"]
    assert any("Found no NVIDIA driver" in w for w in facts.torch.init_warnings)


def test_docker_run_env_on_a_continuation_line() -> None:
    facts = read(
        "docker run --gpus all \\\n  --env=NVIDIA_DRIVER_CAPABILITIES=compute,utility \\\n"
    )
    assert facts.host.env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"


def test_shell_export_and_command_prefix() -> None:
    facts = read(
        "(venv) me@box:~/proj$ export CUDA_VISIBLE_DEVICES=1\n"
        "$ CUDA_LAUNCH_BLOCKING=1 python train.py\n"
    )
    assert facts.host.env == {"CUDA_VISIBLE_DEVICES": "1", "CUDA_LAUNCH_BLOCKING": "1"}
    assert facts.host.env_set_by_script == ["CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING"]


def test_bare_env_line_states_a_value_but_no_script_sets_it() -> None:
    facts = read("NVIDIA_DRIVER_CAPABILITIES=utility\nNVIDIA_VISIBLE_DEVICES=all\n")
    assert facts.host.env == {
        "NVIDIA_DRIVER_CAPABILITIES": "utility",
        "NVIDIA_VISIBLE_DEVICES": "all",
    }
    assert facts.host.nvidia_visible_devices == "all" and facts.host.env_set_by_script == []


@pytest.mark.parametrize(
    "line",
    ["os.environ['CUDA_VISIBLE_DEVICES'] = '1'", 'os.environ["CUDA_VISIBLE_DEVICES"]="0,1"'],
)
def test_python_os_environ(line: str) -> None:
    facts = read(line + "\n")
    assert facts.host.env["CUDA_VISIBLE_DEVICES"] in ("1", "0,1")
    assert facts.host.env_set_by_script == ["CUDA_VISIBLE_DEVICES"]


def test_python_os_environ_not_a_literal_names_it_without_a_value() -> None:
    facts = read("    os.environ['CUDA_VISIBLE_DEVICES'] = str(args.gpu)\n")
    assert "CUDA_VISIBLE_DEVICES" not in facts.host.env
    assert facts.host.env_set_by_script == ["CUDA_VISIBLE_DEVICES"]


def test_unrelated_variables_and_shell_values_are_not_recorded() -> None:
    with pytest.raises(UsageError):
        read("export PATH=/usr/bin\nFOO=1 make\n")
    facts = read("export CUDA_VISIBLE_DEVICES=$GPU\n")
    assert "CUDA_VISIBLE_DEVICES" not in facts.host.env  # "$GPU" is not its value
    assert facts.host.env_set_by_script == ["CUDA_VISIBLE_DEVICES"]


def test_env_lines_inside_a_collect_env_paste() -> None:
    text = (
        "PyTorch version: 2.0.0+cu118\nIs debug build: False\nCUDA used to build PyTorch: 11.8\n"
        "os.environ['CUDA_VISIBLE_DEVICES'] = '3'\n"
    )
    facts = read(text)
    assert facts.input.kinds == ["collect-env"] and facts.host.env["CUDA_VISIBLE_DEVICES"] == "3"


def test_error_text_states_almost_nothing() -> None:
    facts = read(
        "RuntimeError: cuDNN version incompatibility: PyTorch was compiled against (8, 3, 2) but "
        "found runtime version (8, 0, 3).\n"
    )
    assert facts.input.kinds == ["error-text"]
    assert set(facts.input.unstated) == {u.value for u in Unstated}
    assert facts.torch.cudnn_error.startswith("cuDNN version incompatibility")
    assert facts.torch.status == "not-run" and facts.driver.nvml == "not-collected"
    assert facts.driver.version is None and facts.gpus == [] and facts.host.env == {}


@pytest.mark.parametrize(
    "line",
    [
        (
            "UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you "
            "run some cuda functions before calling NumCudaDevices() that might have already set an "
            "error? Error 802: system not yet initialized"
        ),
        (
            "RuntimeError: Unexpected error from cudaGetDeviceCount(). Error 804: forward "
            "compatibility was attempted on non supported HW"
        ),
        "ValueError: libnvrtc.so.*[0-9] not found in the system path ['/usr/lib']",
        "The NVIDIA driver on your system is too old (found version 11040).",
    ],
)
def test_torch_error_lines_alone_are_error_text(line: str) -> None:
    facts = read(line + "\n")
    assert facts.input.kinds == ["error-text"]
    torch = facts.torch
    assert torch.init_warnings or torch.error
    if "11040" in line:
        assert torch.driver_api_version == 11040


def test_a_long_line_is_capped_before_matching() -> None:
    long = "x" * (MAX_LINE * 3) + " Failed to initialize NVML: Driver/library version mismatch"
    facts = Facts(collected_at="")
    assert read_host_signals(clean_lines(long), facts) == set()


@pytest.mark.parametrize(
    "unit",
    ["-e ", "A=", "CUDA_VISIBLE_DEVICES=1 ", "os.environ['", "nv-fabricmanager[1]: ", "a@b:", "(x) ",
     "NVRM: API mismatch: the client has the version 1.1, but ", "/lib: undefined symbol: x",
     "libcu.so => /a (0x1) ", ">>> torch.x ", "torch  1 ", "ldd ", "a (0x1)", "x => not found "],
)  # fmt: skip
def test_adversarial_lines_are_read_in_linear_time(unit: str) -> None:
    import time

    text = unit * (MAX_LINE // len(unit) + 1)
    start = time.perf_counter()
    with contextlib.suppress(UsageError):
        read("\n".join([text] * 20))
    assert time.perf_counter() - start < 2.0


def _cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gpusetup", "doctor", "--facts", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )


def test_cli_error_only_paste(tmp_path: Path) -> None:
    path = tmp_path / "handmade-fabric-manager-802.txt"
    path.write_text(FM_REFUSAL + FM_FAILED, encoding="utf-8")
    result = _cli(path)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["facts"]["input"]["kinds"] == ["error-text"]
    assert "fabric-manager-version-mismatch" in {f["id"] for f in report["findings"]}


def test_cli_garbage_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "handmade-garbage.txt"
    path.write_text("it does not work\nplease help\nexport PATH=/bin\n", encoding="utf-8")
    result = _cli(path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) <= 2
    assert "collect_env" in result.stderr.splitlines()[0]


_SHAPES = [FM_REFUSAL, FM_FAILED, "os.environ['CUDA_VISIBLE_DEVICES'] = '1'\n",
           "docker run -e NVIDIA_DRIVER_CAPABILITIES=utility img\n",
           "Failed to initialize NVML: Driver/library version mismatch\n"]  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_SHAPES), st.integers(0, 300), st.text(max_size=40))
def test_fuzz_cut_signal_lines(shape: str, cut: int, junk: str) -> None:
    with contextlib.suppress(UsageError):
        read(shape[:cut] + junk + shape[cut:])


# A collect_env paste cut short (stored copies of threads often end after ~1,500 characters).
HEAD = "Collecting environment information...\nPyTorch version: {}\nIs debug build: False\n"


def test_cut_before_cuda_build_takes_the_cu_tag() -> None:
    facts = read(HEAD.format("2.0.0+cu118") + "CUDA used to bu")
    assert (facts.torch.cuda_build, "cuda_build" in facts.torch.unavailable) == ("11.8", False)
    assert any("+cu118 tag" in s for s in facts.input.skipped)


def test_cut_before_cuda_build_without_a_tag_is_unknown_not_cpu() -> None:
    facts = read(HEAD.format("1.13.1") + "CUDA used to bu")
    assert facts.torch.cuda_build is None and "cuda_build" in facts.torch.unavailable
    assert any("CUDA build is unknown" in s for s in facts.input.skipped)


def test_two_digit_and_cpu_tags() -> None:
    assert read(HEAD.format("1.4.0+cu92")).torch.cuda_build == "9.2"
    cpu = read(HEAD.format("2.1.0+cpu"))
    assert cpu.torch.cuda_build is None and "cuda_build" not in cpu.torch.unavailable


def test_the_cut_last_line_is_not_a_value() -> None:
    facts = read(
        "PyTorch version: 2.0.0+cu118\nIs debug build: False\nCUDA used to build PyTorch: 1"
    )
    assert facts.torch.cuda_build == "11.8"  # from the tag, not the cut "1"
    assert any("may be cut on its last line" in s for s in facts.input.skipped)
    cut_version = read(
        "Is debug build: False\nCUDA used to build PyTorch: 11.8\nPyTorch version: 2.0."
    )
    assert cut_version.torch.version is None and cut_version.torch.cuda_build is None


def test_a_whole_collect_env_trusts_its_last_line() -> None:
    text = (
        "PyTorch version: 2.0.0+cu118\nCUDA used to build PyTorch: 11.8\n\n"
        "Versions of relevant libraries:\n[pip3] numpy==1.26.4\n[pip3] torch==2.0.0"
    )
    facts = read(text)
    assert facts.torch.cuda_build == "11.8" and facts.torch.numpy_version == "1.26.4"
    assert [d.version for d in facts.torch.distributions] == ["2.0.0"]
    assert not any("cut" in s for s in facts.input.skipped)


SMI_L = (
    "$ nvidia-smi -L\n"
    "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5a6f1c2e-0b3d-4c4e-9a1f-2b3c4d5e6f70)\n"
    "  MIG 3g.40gb     Device  0: (UUID: MIG-8d1f2a3b-4c5d-5e6f-7a8b-9c0d1e2f3a4b)\n"
    "GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-6a6f1c2e-0b3d-4c4e-9a1f-2b3c4d5e6f71)\n"
)


def test_nvidia_smi_l() -> None:
    facts = read(SMI_L)
    assert facts.input.kinds == ["nvidia-smi-l"]
    assert [(g.index, g.name) for g in facts.gpus] == [
        (0, "NVIDIA A100-SXM4-80GB"),
        (1, "NVIDIA A100-SXM4-80GB"),
    ]
    assert facts.gpus[0].uuid.startswith("GPU-5a6f") and facts.gpus[0].mig_enabled is True
    assert facts.gpus[1].mig_enabled is None  # -L does not say MIG is off
    assert facts.driver.version is None and facts.driver.nvml == "ok"
    assert "driver" in facts.input.unstated and "gpu-arch" in facts.input.unstated


def test_nvidia_smi_l_with_a_table_only_adds_uuids() -> None:
    table = (PASTES / "mistral-inference-144-nvidia-smi-525-geforce.txt").read_text()
    alone = read(table)
    both = read(
        table + "\nGPU 0: NVIDIA GeForce X (UUID: GPU-1234abcd-0000-0000-0000-000000000000)\n"
    )
    assert [g.name for g in both.gpus] == [g.name for g in alone.gpus]
    assert both.gpus[0].uuid.startswith("GPU-1234abcd")


def test_bullet_retyped_values() -> None:
    facts = read(
        "Environment:\n- Driver Version: 470.57\n* CUDA version: 11.3\n- PyTorch Version: 1.10.0\n"
    )
    assert facts.driver.version == "470.57" and facts.torch.version == "1.10.0"
    # typed by hand: NVML is not shown working, and "CUDA version" names no one CUDA
    assert facts.driver.nvml == "not-collected" and facts.driver.cuda_version is None
    assert facts.torch.cuda_build is None and "cuda_build" in facts.torch.unavailable
    assert any("'cuda version: 11.3' typed by hand" in s for s in facts.input.skipped)


def test_one_bullet_alone_is_not_a_report() -> None:
    with pytest.raises(UsageError):
        read("- Driver Version: 470.57\n")


_REFUSED_CURLY = (
    "fabric manager NVIDIA GPU driver interface version 550.90.07 don\u2019t match with driver "
    "version 550.107.02. Please update with matching NVIDIA driver package"
)
_REFUSED_DOESNT = (
    "Nov 05 13:55:26 node1 nv-fabricmanager[104230]: fabric manager NVIDIA GPU driver interface "
    "version 550.127.05 doesn't match with driver version 550.120. Please update with the "
    "matching NVIDIA driver package."
)


@pytest.mark.parametrize(
    ("line", "versions"),
    [
        (_REFUSED_CURLY, ("550.90.07", "550.107.02")),
        (_REFUSED_DOESNT, ("550.127.05", "550.120")),
    ],
)
def test_refusal_wordings(line: str, versions: tuple[str, str]) -> None:
    facts = read(line + "\n")
    assert (facts.host.fabric_manager.version, facts.driver.version) == versions


def test_systemd_journal_says_the_start_failed() -> None:
    text = (
        "Nov 05 13:55:26 node1 systemd[1]: Starting NVIDIA fabric manager service...\n"
        "Nov 05 13:55:26 node1 systemd[1]: nvidia-fabricmanager.service: Control process exited, "
        "code=exited, status=1/FAILURE\n"
    )
    assert read(text).host.fabric_manager.unit_state == "failed"
    running = FM_FAILED.replace("failed (Result: exit-code)", "active (running)")
    assert read(running + text).host.fabric_manager.unit_state == "active"  # Active: says now


def test_cut_before_cuda_build_is_not_called_a_cpu_build_by_doctor(tmp_path: Path) -> None:
    """The unknown build is the checks' mark too: torch-cpu-build must not fire on a cut paste."""
    paste = tmp_path / "cut.txt"
    paste.write_text(HEAD.format("1.13.1") + "CUDA used to bu")
    result = make_runner().invoke(app, ["doctor", "--facts", str(paste), "--json"])
    ids = [f["id"] for f in json.loads(result.stdout)["findings"]]
    assert result.exit_code in (0, 1) and "torch-cpu-build" not in ids


# --- nvidia-smi -L without UUIDs, echo $LD_LIBRARY_PATH (pytorch#80876, functorch#926 shapes) ----------


def test_bare_gpu_lines_after_the_nvidia_smi_l_command_are_gpus() -> None:
    facts = read_paste("$ nvidia-smi -L\nGPU 0: NVIDIA GeForce RTX 3090\nGPU 1: NVIDIA TITAN RTX\n")
    assert [(g.index, g.name, g.uuid) for g in facts.gpus] == [
        (0, "NVIDIA GeForce RTX 3090", ""),
        (1, "NVIDIA TITAN RTX", ""),
    ]
    assert facts.input.kinds == ["nvidia-smi-l"]


def test_bare_gpu_lines_without_the_command_are_not_read() -> None:
    with pytest.raises(UsageError):
        read_paste("GPU 0: NVIDIA GeForce RTX 3090\nGPU 1: NVIDIA TITAN RTX\n")


def test_the_command_alone_is_not_a_report() -> None:
    with pytest.raises(UsageError):
        read_paste("$ nvidia-smi -L\nbash: nvidia-smi: command not found\n")


def test_echo_ld_library_path_after_a_prompt() -> None:
    facts = Facts(collected_at="")
    lines = clean_lines(
        "(py38) [0] me@host:~/x  $ echo $LD_LIBRARY_PATH\n/opt/cudnn/lib64:/usr/local/cuda/lib64::\n"
    )
    assert read_host_signals(lines, facts) == {1, 2}
    assert [d.path for d in facts.toolkit.ld_library_path] == [
        "/opt/cudnn/lib64",
        "/usr/local/cuda/lib64",
    ]
    assert all(d.libraries == [] for d in facts.toolkit.ld_library_path)  # not stated: not invented


def test_echo_without_a_path_list_after_it_reads_nothing() -> None:
    facts = Facts(collected_at="")
    lines = clean_lines("$ echo $LD_LIBRARY_PATH\nhello world\n")
    assert read_host_signals(lines, facts) == set()
    assert facts.toolkit.ld_library_path == []


@pytest.mark.parametrize(
    "line",
    [
        (
            "RuntimeError: cuDNN version incompatibility: PyTorch was compiled against (8, 3, 2) "
            "but linked against (8, 0, 3)"
        ),
        (
            "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against 8005 but "
            "found runtime version 8200. PyTorch already comes bundled with cuDNN."
        ),
    ],
)
def test_cudnn_incompatibility_wordings(line: str) -> None:
    facts = read_paste(line + "\n")
    assert facts.torch.cudnn_error is not None
    assert facts.torch.cudnn_error.startswith("cuDNN version incompatibility: PyTorch was compiled")


# --- a hand-written list that copies nvidia-smi's fields (torchpod#43 shape) ---------------------------


def test_hand_written_list_with_nvidia_smi_fields() -> None:
    facts = Facts(collected_at="")
    lines = clean_lines(
        "- 显卡型号: GeForce GTX 1650\n- 驱动版本: Driver Version: 460.80\n"
        "- CUDA版本: CUDA Version: 11.3\n- 系统: Ubuntu20.04\n"
    )
    assert read_host_signals(lines, facts) == {1, 2, 3}
    assert facts.driver.version == "460.80" and facts.driver.cuda_version == "11.3"
    assert [g.name for g in facts.gpus] == ["GeForce GTX 1650"]
    typed = read_paste("\n".join(line.text for line in lines))
    assert typed.driver.nvml == "not-collected"  # typed by hand: NVML not shown working


def test_one_hand_written_field_alone_is_not_read() -> None:
    facts = Facts(collected_at="")
    assert read_host_signals(clean_lines("- 驱动版本: Driver Version: 460.80\n"), facts) == set()
    assert facts.driver.version is None


def test_retyped_cuda_version_is_not_nvidia_smis() -> None:
    facts = Facts(collected_at="")
    lines = clean_lines("- GPU: GeForce GTX 1650\n- CUDA version: 11.3\n- OS: Ubuntu\n")
    read_host_signals(lines, facts)
    assert facts.driver.cuda_version is None  # lower-case "version": whose CUDA is not said


# --- a journal line cut mid-word, a typed driver line, YOLOv5's banner (dstack#2348, yolov5#2389) ------


def test_fabric_manager_refusal_cut_after_its_version() -> None:
    facts = read_paste(
        "Feb 24 09:28:28 ip-1 nv-fabricmanager[1507]: fabric manager NVIDIA GPU driver interface "
        "version 535.183.01 don'\n"
    )
    assert facts.host.fabric_manager.version == "535.183.01"
    assert facts.driver.version is None  # the driver version it names is cut off: unknown


WARNING_TOO_OLD = (
    "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version "
    "10010). Please update your GPU driver\n"
)


def test_typed_driver_line_with_a_full_width_comma_beside_torchs_warning() -> None:
    facts = read_paste("Driver version 435.21\uff0cCUDA 10.1\n" + WARNING_TOO_OLD)
    assert facts.driver.version == "435.21" and facts.torch.driver_api_version == 10010
    assert facts.driver.cuda_version is None  # typed "CUDA 10.1": whose CUDA is not said


def test_typed_driver_line_alone_is_not_a_report() -> None:
    with pytest.raises(UsageError):
        read_paste("Driver version 435.21, CUDA 10.1\n")


def test_yolov5_banner_names_torch_but_not_its_build() -> None:
    facts = read_paste(WARNING_TOO_OLD + "YOLOv5 v4.0-14-gb75c432 torch 1.7.1 CPU\n")
    assert facts.torch.version == "1.7.1" and facts.torch.status == "ok"
    assert facts.torch.cuda_build is None and "cuda_build" in facts.torch.unavailable
    assert facts.torch.cuda_available is None  # "CPU" may be --device cpu


# --- the reporter's own `docker run` (nvidia-docker#533 shape) ----------------------------------------


@pytest.mark.parametrize(
    ("line", "container"),
    [
        (
            "docker run --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all -it --rm allennlp/allennlp",
            "docker",
        ),
        ("$ sudo docker run --gpus all -it pytorch/pytorch bash", "docker"),
        ("podman run --device nvidia.com/gpu=all -it img", "podman"),
        ("nvidia-docker run -it img", "docker"),
    ],
)
def test_gpu_docker_run_names_the_container(line: str, container: str) -> None:
    facts = Facts(collected_at="")
    assert read_host_signals(clean_lines(line + "\n"), facts) == {1}
    assert facts.host.container == container
    assert "NVIDIA_DRIVER_CAPABILITIES" not in facts.host.env  # the image may set it: unknown


def test_docker_run_without_a_gpu_runtime_is_not_read() -> None:
    facts = Facts(collected_at="")
    assert read_host_signals(clean_lines("docker run -it ubuntu bash\n"), facts) == set()
    assert facts.host.container == ""
