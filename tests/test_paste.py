"""Pasted reports (collect_env, nvidia-smi, nvidia-smi -q) read into facts: real pastes, each with its source."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpusetup.cli import app
from gpusetup.errors import UsageError
from gpusetup.facts.model import Facts
from gpusetup.facts.paste import read_paste
from tests.conftest import FIXTURES, make_runner

PASTES = FIXTURES / "paste"
FILES = sorted(PASTES.glob("*.txt"))
runner = make_runner()


def paste(name: str) -> Facts:
    return read_paste((PASTES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_paste_names_its_source_and_is_read(path: Path) -> None:
    source = path.with_suffix(".source")
    assert source.is_file() and (
        "https://" in source.read_text() or "Recorded" in source.read_text()
    )
    facts = read_paste(path.read_text(encoding="utf-8"))
    assert facts.input.pasted and facts.input.kinds


def test_recorded_ci_collect_env_torch_2_13_cpu() -> None:
    facts = paste("recorded-ci-collect-env-2.13.0-cpu.txt")
    assert facts.input.kinds == ["collect-env"]
    assert (facts.torch.status, facts.torch.version, facts.torch.cuda_build) == (
        "ok",
        "2.13.0+cpu",
        None,
    )
    assert facts.torch.cuda_available is False and facts.torch.numpy_version == "2.4.6"
    assert facts.host.distro == "Debian GNU/Linux 12 (bookworm)" and facts.host.machine == "x86_64"
    # "Nvidia driver version: Could not collect": unknown, never "NVML works"
    assert facts.driver.nvml == "not-collected" and facts.driver.version is None
    assert "driver" in facts.input.unstated and "host" in facts.input.unstated
    assert any("RuntimeWarning" in s for s in facts.input.skipped)  # the line it did not read


def test_torch_1_6_yes_no_with_an_nvidia_smi_table_inside() -> None:
    facts = paste("pytorch-43058-collect-env-1.6.0-with-nvidia-smi.txt")
    assert facts.input.kinds == ["nvidia-smi", "collect-env"]
    assert facts.torch.version == "1.6.0" and facts.torch.cuda_available is False
    assert [g.name for g in facts.gpus] == ["Tesla V100-PCIE-16GB"] * 2
    assert (facts.driver.version, facts.driver.cuda_version) == ("418.67", "10.1")
    assert any("ends before its first GPU row" in s for s in facts.input.skipped)


def test_torch_1_7_truncated_paste_says_what_is_missing() -> None:
    facts = paste("pytorch-46973-collect-env-1.7.0-cu101-colab.txt")
    assert (facts.torch.version, facts.torch.cuda_build, facts.driver.version) == (
        "1.7.0+cu101",
        "10.1",
        "418.67",
    )
    assert [g.name for g in facts.gpus] == ["Tesla T4"]
    assert "packages" in facts.input.unstated
    assert any("not in it: the package lists" in s for s in facts.input.skipped)


def test_torch_2_4_on_wsl2_from_vllm() -> None:
    facts = paste("vllm-9293-collect-env-2.4.0-cu121-wsl2.txt")
    assert facts.host.is_wsl and facts.host.env["CUDA_MODULE_LOADING"] == "LAZY"
    assert facts.gpus[0].name == "NVIDIA GeForce RTX 4070 Laptop GPU"
    assert facts.torch.python_version == "3.12.3"


def test_conda_list_and_pip_list() -> None:
    facts = paste("pytorch-28321-collect-env-1.3.0-conda-and-pip.txt")
    installs = {(d.name, d.version, d.installer) for d in facts.torch.distributions}
    assert ("torch", "1.2.0", "pip") in installs and ("pytorch", "1.3.0", "conda") in installs
    assert facts.torch.torchvision_version == "0.4.0"


def test_retyped_fields_and_full_width_colons() -> None:
    facts = paste("pytorch-37320-collect-env-1.5.0-retyped.txt")
    assert facts.torch.version == "1.5.0" and len(facts.gpus) == 4
    assert facts.toolkit.cudnn_version == "7.6.5"
    assert {d.name for d in facts.torch.distributions} == {"torch", "torchvision"}


def test_indented_paste_and_cudnn_candidates() -> None:
    facts = paste("pytorch-44303-collect-env-1.3.1-indented.txt")
    assert facts.torch.version == "1.3.1" and facts.torch.cuda_build is None
    assert facts.toolkit.cudnn_version == "7.6.5"


def test_windows_2_8_with_warnings_before_the_report() -> None:
    facts = paste("pytorch-pr137846-collect-env-2.8.0-cpu-windows.txt")
    assert facts.host.os == "windows" and facts.torch.cuda_build is None
    assert facts.gpus == [] and facts.driver.version is None  # "No CUDA": unknown, not absent


def test_driver_api_version_from_torch_warning() -> None:
    facts = paste("lhotse-793-collect-env-1.12.1-cu102-driver-too-old.txt")
    assert facts.torch.driver_api_version == 9010
    assert any("too old" in w for w in facts.torch.init_warnings)


def test_package_list_fragment_of_a_cu130_nightly() -> None:
    facts = paste("pytorch-178196-collect-env-fragment-2.12-cu130-packages.txt")
    assert facts.torch.status == "not-run" and "torch" in facts.input.unstated
    assert facts.torch.nvidia_wheels["nvidia-cudnn-cu13"] == "9.20.0.48"
    assert ("torch", "2.12.0.dev20260323+cu130") in {
        (d.name, d.version) for d in facts.torch.distributions
    }


def test_nvidia_smi_table_525() -> None:
    facts = paste("mistral-inference-144-nvidia-smi-525-geforce.txt")
    (gpu,) = facts.gpus
    assert (facts.driver.version, facts.driver.cuda_version) == ("525.147.05", "12.0")
    assert (gpu.pci_bus_id, gpu.memory_used_mib, gpu.memory_total_mib) == (
        "00000000:09:00.0",
        490,
        12288,
    )
    assert (gpu.temperature_c, gpu.power_draw_w, gpu.power_limit_w) == (45, 58.0, 170.0)
    assert gpu.persistence_mode is False and gpu.compute_mode == "default"
    assert gpu.compute_capability is None and "gpu-arch" in facts.input.unstated
    assert facts.torch.status == "not-run"


def test_nvidia_smi_q_of_three_driver_generations() -> None:
    old = paste("nvidia-docker-688-nvidia-smi-q-375-quadro.txt")
    assert old.gpus[0].pci_bus_id == "00000000:01:00.0" and old.gpus[0].brand == "Quadro"
    assert old.driver.cuda_version is None  # driver 375 prints no CUDA Version
    mid = paste("nvidia-docker-954-nvidia-smi-q-396-gtx1080.txt")
    assert mid.gpus[0].uuid == "GPU-0200523e-f473-3a45-9b4a-fbbe0e41ccf8"
    new = paste("sysmon-12-nvidia-smi-q-450-gtx780.txt")
    assert (new.driver.version, new.driver.cuda_version) == ("450.66", "11.0")
    assert new.gpus[0].name == "GeForce GTX 780" and new.gpus[0].mig_enabled is None
    assert any("no ECC" in s for s in new.input.skipped)


def test_crlf_and_ansi_colour_read_the_same() -> None:
    text = (PASTES / "pytorch-43058-collect-env-1.6.0-with-nvidia-smi.txt").read_text()
    coloured = "\x1b[1;32m" + text.replace("\n", "\x1b[0m\r\n")
    assert read_paste(coloured).torch == read_paste(text).torch
    assert read_paste(coloured).gpus == read_paste(text).gpus


def test_quoted_paste_in_a_details_block() -> None:
    text = (PASTES / "recorded-ci-collect-env-2.13.0-cpu.txt").read_text()
    quoted = "<details><summary>env</summary>\n\n" + "".join(
        f"> {line}\n" for line in text.splitlines()
    )
    assert read_paste(quoted + "</details>\n").torch == read_paste(text).torch


def test_none_of_the_formats_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("I tried reinstalling everything\nstill broken\n")
    result = runner.invoke(app, ["doctor", "--facts", str(path)])
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert "collect_env" in first and "nvidia-smi -q" in first and "Traceback" not in result.stderr


def test_stdin_paste_through_the_real_cli() -> None:
    text = (PASTES / "mistral-inference-144-nvidia-smi-525-geforce.txt").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "gpusetup", "doctor", "--facts", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Read: nvidia-smi paste" in result.stdout and "not-in-report" in result.stdout


def test_paste_report_json_replays(tmp_path: Path) -> None:
    import json

    path = PASTES / "pytorch-43058-collect-env-1.6.0-with-nvidia-smi.txt"
    first = json.loads(runner.invoke(app, ["doctor", "--facts", str(path), "--json"]).stdout)
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(first))
    second = json.loads(runner.invoke(app, ["doctor", "--facts", str(saved), "--json"]).stdout)
    assert second["findings"] == first["findings"]
    assert first["facts"]["input"]["kinds"] == ["nvidia-smi", "collect-env"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=400))
def test_fuzz_any_text(text: str) -> None:
    with contextlib.suppress(UsageError):
        read_paste(text)


_SAMPLES = [p.read_text(encoding="utf-8") for p in FILES]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(_SAMPLES),
    st.integers(min_value=0, max_value=6000),
    st.integers(min_value=0, max_value=6000),
    st.text(max_size=40),
)
def test_fuzz_cut_and_spliced_real_pastes(sample: str, start: int, stop: int, junk: str) -> None:
    """A cut, spliced real paste is read or refused with the one-line error; never anything else."""
    text = sample[: min(start, stop)] + junk + sample[max(start, stop) :]
    with contextlib.suppress(UsageError):
        read_paste(text)


def test_windows_wddm_table() -> None:
    facts = paste("pytorch-68611-nvidia-smi-461-windows-wddm.txt")
    (gpu,) = facts.gpus
    assert gpu.name == "GeForce GTX 105..." and gpu.persistence_mode is None  # WDDM, not On/Off
    assert (facts.driver.version, facts.driver.cuda_version, gpu.memory_total_mib) == (
        "461.72",
        "11.2",
        4096,
    )
    assert not any("not read" in s for s in facts.input.skipped)


def test_quoted_windows_collect_env_with_pip_lines() -> None:
    facts = paste("pytorch-40682-collect-env-1.5.0-cu101-windows-quoted.txt")
    assert facts.torch.version == "1.5.0+cu101" and facts.host.os == "windows"
    assert [g.name for g in facts.gpus] == ["TITAN RTX", "TITAN RTX"]
    assert ("torchvision", "0.6.0+cu101") in {
        (d.name, d.version) for d in facts.torch.distributions
    }


def test_q_fragment_of_the_remapped_rows_section_is_diagnosed() -> None:
    from gpusetup.doctor.context import Context
    from gpusetup.doctor.registry import run_checks
    from gpusetup.profiles.load import load_profiles

    facts = paste("gpud-80-nvidia-smi-q-fragment-remapped-rows.txt")
    (gpu,) = facts.gpus
    assert (gpu.remapped_rows_uncorrectable, gpu.remapped_rows_pending) == (4, True)
    assert any("starts inside a GPU's section" in s for s in facts.input.skipped)
    ids = [f.id for f in run_checks(Context(facts, load_profiles()))]
    assert "row-remap-pending" in ids


def test_q_fragment_with_clocks_event_reasons_of_driver_535_and_later() -> None:
    facts = paste("harvester-11133-nvidia-smi-q-fragment-clocks-event-reasons.txt")
    (gpu,) = facts.gpus
    assert gpu.clocks_event_reasons == 0x1  # Idle active, nothing else
    assert gpu.memory_total_mib == 95830


def test_vllm_banners_and_padded_labels() -> None:
    facts = paste("vllm-21310-collect-env-vllm-banners-2.5.1-cu124.txt")
    assert (facts.torch.version, facts.torch.cuda_build) == ("2.5.1+cu124", "12.4")
    assert facts.host.distro == "Red Hat Enterprise Linux release 8.3 (Ootpa)"
    assert facts.torch.python_version == "3.10.16"
    unread = [s for s in facts.input.skipped if "not read" in s]
    assert unread and "Automatically detected" not in unread[0] and "System Info" not in unread[0]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_SAMPLES), st.integers(min_value=0, max_value=4000), st.text(max_size=30))
def test_fuzz_through_the_cli_never_exits_4(sample: str, cut: int, junk: str) -> None:
    """doctor --facts on a cut real paste plus junk: a diagnosis (0/1) or the one-line error (2)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
        handle.write(sample[:cut] + junk)
    result = runner.invoke(app, ["doctor", "--facts", handle.name, "--markdown"])
    Path(handle.name).unlink()
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr


def test_q_with_a_foreign_log_line_inside() -> None:
    facts = paste("hami-347-nvidia-smi-q-535-v100-interleaved.txt")
    assert (facts.driver.version, facts.driver.cuda_version) == ("535.86.10", "12.2")
    assert facts.gpus[0].pci_bus_id == "00000000:AF:00.0" and facts.gpus[0].brand == "Tesla"
    assert any("HAMI-core" in s for s in facts.input.skipped)


def test_q_filtered_on_a_vgpu_host_says_cuda_not_found() -> None:
    facts = paste("cubecos-312-nvidia-smi-q-580-filtered.txt")
    assert facts.driver.version == "580.105.06" and facts.driver.cuda_version is None
    assert facts.gpus[0].clocks_event_reasons == 0 and facts.gpus[0].name == ""


def test_q_of_an_a100_with_mig_disabled() -> None:
    facts = paste("cudalibrarysamples-104-nvidia-smi-a-470-a100.txt")
    gpu = facts.gpus[0]
    assert (gpu.name, gpu.mig_enabled, gpu.mig_pending, gpu.persistence_mode) == (
        "NVIDIA A100-SXM4-80GB",
        False,
        False,
        True,
    )


def test_q_output_followed_by_collect_env_keeps_both() -> None:
    q = (PASTES / "cudalibrarysamples-104-nvidia-smi-a-470-a100.txt").read_text()
    env = (PASTES / "recorded-ci-collect-env-2.13.0-cpu.txt").read_text()
    facts = read_paste(q + "\n" + env)
    assert facts.input.kinds == ["nvidia-smi-q", "collect-env"]
    assert facts.torch.version == "2.13.0+cpu" and facts.gpus[0].name == "NVIDIA A100-SXM4-80GB"


def test_wide_layout_of_drivers_530_and_later() -> None:
    facts = paste("rlinf-255-nvidia-smi-550-two-rtx4090.txt")
    assert [g.pci_bus_id for g in facts.gpus] == ["00000000:4E:00.0", "00000000:4F:00.0"]
    assert [g.ecc_enabled for g in facts.gpus] == [False, False]  # the ECC column says Off
    assert [g.power_limit_w for g in facts.gpus] == [450.0, 450.0]
    assert [g.mig_enabled for g in facts.gpus] == [None, None]  # N/A: not a MIG GPU
    assert not any("cut inside" in s for s in facts.input.skipped)


def test_process_table_alone() -> None:
    facts = paste("nvitop-152-nvidia-smi-process-table-only.txt")
    assert [(g.index, len(g.processes)) for g in facts.gpus] == [(0, 2), (1, 1), (2, 2)]
    assert (
        facts.gpus[2].processes[0].name == "/usr/bin/X"
        and facts.gpus[2].processes[0].used_mib == 64
    )
    assert "driver" in facts.input.unstated
    assert any("only the process table" in s for s in facts.input.skipped)
