"""verify --collectives for real: two gloo ranks under torchrun on the CPU, and a rank that dies."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import pytest

from tests.conftest import make_runner
from tests.fakes.stub_envs import NUMPY_HIDDEN

pytest.importorskip("torch")
pytestmark = pytest.mark.slow
runner = make_runner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> Dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID")
    }
    env.update(extra)
    return env


@pytest.fixture(params=["with numpy", "without numpy"])
def rank_env(request: pytest.FixtureRequest, tmp_path: Path) -> Dict[str, str]:
    """torch does not depend on numpy: the ranks must exchange their results without it."""
    if request.param == "with numpy":
        return _env()
    hidden = tmp_path / "no-numpy"
    (hidden / "numpy").mkdir(parents=True)
    (hidden / "numpy" / "__init__.py").write_text(NUMPY_HIDDEN)
    path = os.pathsep.join(p for p in (str(hidden), os.environ.get("PYTHONPATH", "")) if p)
    return _env(PYTHONPATH=path)


def test_two_ranks_under_torchrun(rank_env: Dict[str, str]) -> None:
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "gpusetup",
        "verify",
        "--collectives",
        "--device",
        "cpu",
        "--json",
        "--timeout",
        "90",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=rank_env)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["mode"] == "collectives" and report["passed"] is True
    ops = {r["benchmark"] for r in report["results"]}
    assert ops == {"all_reduce", "all_gather", "reduce_scatter"}
    for r in report["results"]:
        assert r["ok"] and r["unit"] == "GB/s" and r["value"] > 0
        assert r["size"]["ranks"] == 2 and r["size"]["counted"] == "busbw (nccl-tests)"
        # nccl-tests: all-reduce busbw = algbw * 2(n-1)/n, which is algbw itself for n = 2
        factor = 1.0 if r["benchmark"] == "all_reduce" else 0.5
        assert r["value"] == pytest.approx(r["size"]["algbw_gbps"] * factor, rel=0.01)
    assert sorted(d["name"].split(":")[0] for d in report["devices"]) == ["rank 0", "rank 1"]


def test_without_a_launcher_explains_how_to_launch() -> None:
    result = runner.invoke(app_cli(), ["verify", "--collectives", "--device", "cpu"], env=_env())
    assert result.exit_code == 2
    assert "torchrun --nproc-per-node" in result.stderr and "srun" in result.stderr


def test_a_rank_that_dies_ends_the_others_with_a_clear_message() -> None:
    port = str(_free_port())
    common = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "WORLD_SIZE": "2"}
    # rank 1 joins the group, then dies before the first collective
    dying = (
        "import datetime, os, torch.distributed as d; "
        "d.init_process_group('gloo', rank=1, world_size=2, timeout=datetime.timedelta(seconds=60)); os._exit(1)"
    )
    peer = subprocess.Popen(
        [sys.executable, "-c", dying], env=_env(**common, RANK="1", LOCAL_RANK="0")
    )
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpusetup",
            "verify",
            "--collectives",
            "--device",
            "cpu",
            "--timeout",
            "25",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(**common, RANK="0", LOCAL_RANK="0"),
    )
    peer.wait(timeout=30)
    assert result.returncode == 1, result.stderr
    assert "rank 0" in result.stderr and (
        "peer rank died" in result.stderr or "did not finish" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


def app_cli():
    from gpusetup.cli import app

    return app
