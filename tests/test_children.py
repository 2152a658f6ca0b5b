"""Child processes, run for real: nothing they start outlives gpusetup, a finished probe is finished
even when a grandchild holds its pipe, no scratch directory is left behind, and what a child prints
is data: malformed output becomes a failed probe or a failed row, never exit 4.

No test here depends on timing: waits poll with generous bounds, and each assertion is about what
happened (alive or not, which status), never about how long it took.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

import gpusetup
from gpusetup.facts.probe import probe_torch
from gpusetup.plumbing import process
from gpusetup.verify.child import run_child
from tests.conftest import default_signals
from tests.fakes.stub_envs import make_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc"),
]
SRC = str(Path(gpusetup.__file__).resolve().parents[1])  # the gpusetup under test


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its reaping is left


def ends_within(pid: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def read_pid(path: Path, seconds: float = 30) -> int:
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(path.read_text())


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    root = tmp_path_factory.mktemp("children")
    return {kind: str(make_env(root / kind, kind)) for kind in ("daemon", "pipe-holder", "cpu")}


@pytest.mark.parametrize("kind", ["daemon", "pipe-holder"])
def test_a_grandchild_of_the_probe_does_not_outlive_it(
    kind: str, envs: Dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon (own session, stdio closed) and a helper in the group that keeps stdout open: the
    probe's answer counts (not a hang), and both are ended with it."""
    pidfile = tmp_path / "grandchild.pid"
    monkeypatch.setenv("GPUSETUP_TEST_PIDFILE", str(pidfile))
    facts = probe_torch(envs[kind], timeout=120)
    grandchild = read_pid(pidfile)
    try:
        assert facts.status == "ok" and facts.version == "2.4.1+cpu", facts.error
        assert ends_within(grandchild), f"the probe's grandchild {grandchild} outlived it"
    finally:
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_doctor_ends_a_detached_grandchild(
    envs: Dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    env = dict(os.environ, PYTHONPATH=SRC, GPUSETUP_TEST_PIDFILE=str(pidfile))
    done = subprocess.run(
        [sys.executable, "-m", "gpusetup", "doctor", "--json", "--python", envs["daemon"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    grandchild = read_pid(pidfile)
    try:
        assert done.returncode in (0, 1), done.stderr
        assert json.loads(done.stdout)["facts"]["torch"]["version"] == "2.4.1+cpu"
        assert ends_within(grandchild), "a detached grandchild of the probe outlived doctor"
    finally:
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_process_run_ends_the_whole_group_when_the_child_ends(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('parent done')\n"
    )
    result = process.run([sys.executable, "-c", script], timeout=120)
    grandchild = read_pid(pidfile)
    try:
        assert result.returncode == 0 and "parent done" in result.stdout
        assert ends_within(grandchild), "a grandchild in the child's group outlived it"
    finally:
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_a_child_that_exits_without_reading_its_input(tmp_path: Path) -> None:
    """Megabytes of input to a benchmark child that never reads it: a failed run, not a
    BrokenPipeError (exit 4)."""
    lines: List[str] = []
    result = process.stream(
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        timeout=120,
        on_line=lines.append,
        stdin_text="x" * (8 << 20),
    )
    assert result.returncode == 3 and not result.timed_out and lines == []


def _gpusetup(args: List[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=SRC, TMPDIR=str(tmp))
    return subprocess.run(
        [sys.executable, "-m", "gpusetup", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_no_scratch_directory_is_left_behind(envs: Dict[str, str], tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    doctor = _gpusetup(["doctor", "--json", "--python", envs["cpu"]], tmp)
    verify = _gpusetup(["verify", "--device", "cpu", "--python", envs["cpu"]], tmp)
    assert doctor.returncode in (0, 1) and verify.returncode == 1, doctor.stderr + verify.stderr
    assert [p.name for p in tmp.iterdir()] == []


def fake_python(tmp_path: Path, body: str) -> str:
    """An "interpreter" that answers gpusetup's --python check and then prints body for any script."""
    path = tmp_path / "python"
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-c" ]; then echo gpusetup-python-ok 3.11; exit 0; fi\n'
        f"cat <<'GPUSETUP_END'\n{body}\nGPUSETUP_END\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


DEEP = "[" * 5000 + "]" * 5000
HOSTILE_RESULTS = [
    '{"gpu": "zero", "name": "cpu", "benchmark": "matmul", "dtype": "fp32", "value": 1, "ok": true}',
    '{"gpu": -1, "name": "cpu", "benchmark": "matmul", "dtype": "bf16", "value": "fast", "ok": true}',
    '{"gpu": -1, "name": "\\ud800", "benchmark": "matmul", "dtype": "fp16", "value": 1, "ok": true}',
    '{"gpu": -1, "name": "cpu", "benchmark": "conv", "dtype": "fp32", "value": NaN, "ok": true}',
    '{"gpu": -1, "name": "cpu", "benchmark": "memory", "dtype": "fp32", "value": 1e999, "ok": true}',
    '{"gpu": -1, "name": "cpu", "benchmark": "m", "dtype": "x", "size": {"bytes": "lots"}, "ok": true}',
    '{"gpu": -1, "name": "cpu", "benchmark": "m", "dtype": "y", "size": [1], "ok": true}',
    '{"gpu": -1, "name": "cpu", "benchmark": "m", "dtype": "z", "value": 1' + "0" * 5000 + "}",
    DEEP,
    "[1, 2]",
    "not json",
]
_SDPA = '{"gpu": -1, "name": "cpu", "backend": "%s", "dtype": "fp32", "outcome": "%s", "head_dim": 32%s}'
HOSTILE_SDPA = [
    _SDPA % ("flash", "ran", ""),  # a backend that ran is a RESULT, not an SDPA line
    _SDPA % ("warp", "refused", ""),
    _SDPA % ("math", "refused", ', "capability": "sm_9x"'),
    _SDPA % ("math", "refused", ', "head_dim": 3.5'),
]


def test_malformed_benchmark_output_is_a_failed_row(tmp_path: Path) -> None:
    lines = ['GPUSETUP-DEVICE:{"gpu": -1, "name": "cpu", "torch": "stub"}']
    lines += ['GPUSETUP-DEVICE:{"gpu": "cpu", "name": ["x"], "pci_bus_id": 7}']
    lines += [f"GPUSETUP-RESULT:{payload}" for payload in HOSTILE_RESULTS]
    good = (
        'GPUSETUP-RESULT:{"gpu": -1, "name": "cpu", "benchmark": "matmul", "dtype": "fp8",'
        ' "value": 0.25, "unit": "TFLOP/s", "ok": true}'
    )
    lines += [f"GPUSETUP-SDPA:{payload}" for payload in HOSTILE_SDPA]
    refused = _SDPA % ("math", "refused", ', "message": "no", "error_line": "no"')
    lines += [good, f"GPUSETUP-SDPA:{refused}", "GPUSETUP-DONE:{}"]
    python = fake_python(tmp_path, "\n".join(lines))
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpusetup",
            "verify",
            "--device",
            "cpu",
            "--python",
            python,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)  # valid JSON: no NaN, no Infinity, no lone surrogate
    good = [r for r in report["results"] if r["dtype"] == "fp8"]
    bad = [r for r in report["results"] if "malformed RESULT" in r["reason"]]
    assert len(good) == 1 and good[0]["value"] == 0.25 and good[0]["ok"]
    assert len(bad) == len(HOSTILE_RESULTS) and not any(r["ok"] for r in bad)
    assert any("malformed DEVICE" in r["reason"] and not r["ok"] for r in report["results"])
    sdpa = [r for r in report["results"] if "malformed SDPA" in r["reason"]]
    assert len(sdpa) == len(HOSTILE_SDPA) and not any(r["ok"] for r in sdpa)
    (math,) = [r for r in report["results"] if r["benchmark"] == "attention"]
    assert not math["ok"] and math["reason"] == "math failed: no"  # the CPU must run math


@pytest.mark.parametrize("body", ["", "GPUSETUP-FATAL:[1]", 'GPUSETUP-DEVICE:{"gpu": []}'])
def test_a_child_that_says_nothing_useful_is_a_failed_run(tmp_path: Path, body: str) -> None:
    run = run_child(fake_python(tmp_path, body), {"devices": ["cpu"]}, timeout=120)
    assert run.crash or run.bad
    assert not run.results and run.fatal is None


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(DEEP, id="deep"),
        '{"status": "ok", "version": "\\udc80"}',
        '{"status": "ok", "version": 2}',
        '{"status": "ok", "seconds": 1e999}',
        '{"status": "ok", "seconds": NaN}',
        '{"status": "ok", "devices": {"0": 1}}',
        "[]",
    ],
)
def test_malformed_probe_output_is_a_failed_probe(tmp_path: Path, payload: str) -> None:
    facts = probe_torch(fake_python(tmp_path, "GPUSETUP-PROBE:" + payload), timeout=120)
    assert facts.status == "bad-output" and "cannot read" in facts.error
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpusetup",
            "doctor",
            "--json",
            "--python",
            str(tmp_path / "python"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    ids = [f["id"] for f in json.loads(done.stdout)["findings"]]
    assert done.returncode == 1 and "probe-failed" in ids, done.stderr


def test_a_torch_without_torch_c_still_yields_every_other_fact(tmp_path: Path) -> None:
    """A stand-in torch without the private torch._C: the version, the build and CUDA state are
    read, and arch_list is named as unavailable, with the reason (before: the probe crashed)."""
    python = str(make_env(tmp_path / "env", "no-c"))
    facts = probe_torch(python, timeout=120)
    assert facts.status == "ok" and facts.version == "2.4.1+cpu", facts.error
    assert facts.cuda_build is None and facts.cuda_available is False
    assert facts.cudnn_enabled is True and facts.device_count == 0
    assert "arch_list" in facts.unavailable and "_C" in facts.unavailable["arch_list"]
    done = subprocess.run(
        [sys.executable, "-m", "gpusetup", "doctor", "--python", python],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=SRC),
        timeout=300,
    )
    shown = " ".join(done.stdout.split())  # the table may wrap a long line
    assert "Torch 2.4.1+cpu" in shown and "could not read: arch_list" in shown


def test_the_benchmark_child_reads_each_capability_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real torch without get_num_threads, torch.backends.cuda and _scaled_mm: the device is still
    described (threads unavailable, with why), fp32 runs, fp8 is skipped with its reason."""
    pytest.importorskip("torch")
    (tmp_path / "sitecustomize.py").write_text(
        "import torch\n"
        "del torch.get_num_threads\n"
        "delattr(torch.backends, 'cuda')\n"
        "del torch._scaled_mm\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    config = {"devices": ["cpu"], "dtypes": ["fp32", "fp8"], "benchmarks": ["matmul"]}
    run = run_child(sys.executable, config, timeout=300)
    assert not run.crash and not run.bad, run.stderr
    (device,) = run.devices
    assert device.name == "cpu" and device.torch.startswith("2.")
    assert device.threads is None and "get_num_threads" in device.unavailable["threads"]
    fp32, fp8 = run.results
    assert fp32.ok and fp32.value is not None and fp32.value > 0
    assert fp8.ok and fp8.value is None and "no torch._scaled_mm" in fp8.reason


def test_a_gpu_whose_properties_cannot_be_read_is_still_described() -> None:
    """The benchmark child's describe(), given a torch whose get_device_properties raises and whose
    cudnn lacks version(): the device record names what is missing instead of ending the run."""
    from gpusetup.verify import _bench_child

    class Cuda:
        @staticmethod
        def get_device_properties(index: int) -> object:
            raise RuntimeError("CUDA error: unspecified launch failure")

    class StandIn:
        __version__ = "2.13.0+cu130"
        cuda = Cuda

        class version:
            cuda = "13.0"

        class backends:
            class cudnn:
                pass

    info = _bench_child.describe(StandIn, "cuda:0", 0)
    assert info["name"] == "GPU 0" and info["torch"] == "2.13.0+cu130" and info["cuda"] == "13.0"
    assert "unspecified launch failure" in info["unavailable"]["props"]
    assert {"capability", "memory_mib", "cudnn"} <= set(info["unavailable"])
    assert info["capability"] == "" and info["memory_mib"] == 0


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)]
)
def test_a_signal_ends_the_probes_detached_grandchild(sig: int, code: int, tmp_path: Path) -> None:
    """doctor is signalled while its probe hangs after starting a daemon: the daemon ends too."""
    python = str(make_env(tmp_path / "env", "daemon-hangs"))
    pidfile = tmp_path / "grandchild.pid"
    env = dict(os.environ, PYTHONPATH=SRC, GPUSETUP_TEST_PIDFILE=str(pidfile))
    cli = subprocess.Popen(
        [sys.executable, "-m", "gpusetup", "doctor", "--python", python, "--timeout", "300"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_signals,
    )
    grandchild = read_pid(pidfile, seconds=120)
    try:
        cli.send_signal(sig)
        _, stderr = cli.communicate(timeout=60)
        assert cli.returncode == code and "Traceback" not in stderr, stderr
        assert ends_within(grandchild), "the probe's daemon outlived a signalled doctor"
    finally:
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)
        if cli.poll() is None:
            cli.kill()


def test_markup_from_the_benchmark_child_is_printed_as_text(tmp_path: Path) -> None:
    """Rich markup in what the child prints ([/x] is a closing tag to rich) is data: exit 1, not 4."""
    body = (
        'GPUSETUP-DEVICE:{"gpu": -1, "name": "[/x]cpu", "torch": "[bold]stub"}\n'
        'GPUSETUP-RESULT:{"gpu": -1, "name": "[/x]", "benchmark": "[/y]", "dtype": "[red]fp32",'
        ' "value": 0.5, "unit": "[/u]", "ok": false, "reason": "[/z] bad"}\n'
        "GPUSETUP-DONE:{}"
    )
    python = fake_python(tmp_path, body)
    done = subprocess.run(
        [sys.executable, "-m", "gpusetup", "verify", "--device", "cpu", "--python", python],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=SRC),
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "[/z] bad" in done.stdout and "[/y]" in done.stdout and "[bold]stub" in done.stdout


def test_a_probe_that_lingers_after_its_result_is_done(tmp_path: Path) -> None:
    """The result line is the answer: a probe that then hangs (a CUDA teardown that never returns)
    is read as done after a short grace, not reported as hung at the timeout."""
    path = tmp_path / "python"
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-c" ]; then echo gpusetup-python-ok 3.11; exit 0; fi\n'
        """echo 'GPUSETUP-PROBE:{"status": "ok", "version": "9.9.9"}'\n"""
        "exec sleep 600\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    facts = probe_torch(str(path), timeout=300)
    assert facts.status == "ok" and facts.version == "9.9.9", facts.error
