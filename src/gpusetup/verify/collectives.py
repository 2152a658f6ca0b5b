"""verify --collectives: one rank's share of all-reduce/all-gather/reduce-scatter; rank 0 reports all."""

from __future__ import annotations

import os
import platform
import time
from typing import Optional

from gpusetup.errors import CommandFailed, MissingRequirement, UsageError
from gpusetup.facts.target import Target
from gpusetup.verify.child import COLLECTIVES, run_child
from gpusetup.verify.run import crash_row, python_record
from gpusetup.verify.score import VerifyResult, row_from_raw
from gpusetup.verify.vocab import FatalKind

LAUNCH_HINT = (
    "start one process per GPU with a launcher: torchrun --nproc-per-node 8 -m gpusetup verify --collectives "
    "(across nodes: torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 "
    "-m gpusetup verify --collectives; Slurm: MASTER_ADDR=<first node> MASTER_PORT=29500 srun "
    "--ntasks-per-node 8 python -m gpusetup verify --collectives)"
)


def launched() -> bool:
    """Started by torchrun (RANK, WORLD_SIZE) or srun (SLURM_PROCID, SLURM_NTASKS, MASTER_ADDR)."""
    env = os.environ
    torchrun = "RANK" in env and "WORLD_SIZE" in env
    slurm = "SLURM_PROCID" in env and "SLURM_NTASKS" in env and "MASTER_ADDR" in env
    return torchrun or slurm


def check_collectives(device: str) -> None:
    """Usage errors of --collectives, before the target is even checked."""
    if not launched():
        raise UsageError(
            "--collectives needs a launcher: no RANK/WORLD_SIZE (torchrun) or SLURM_PROCID (srun)",
            LAUNCH_HINT,
        )
    if device not in ("all", "cpu"):
        raise UsageError(
            f"--device {device}: with --collectives each rank uses its LOCAL_RANK GPU",
            "use --device all (GPUs, NCCL) or --device cpu (gloo)",
        )


def run_collectives(device: str, target: Target, limit: float) -> Optional[VerifyResult]:
    """This rank's run; the result of every rank on rank 0, None on the others."""
    started = time.monotonic()
    run = run_child(
        target.path, {"device": device, "timeout": max(10.0, limit - 10)}, limit, script=COLLECTIVES
    )
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    if run.fatal:
        if run.fatal.kind in (FatalKind.TORCH_MISSING, FatalKind.CUDA_INIT_FAILED):
            raise MissingRequirement(
                f"rank {rank}: {run.fatal.error}", f"run gpusetup doctor on {platform.node()}"
            )
        raise CommandFailed(
            run.fatal.error, "check that every rank is alive and can reach MASTER_ADDR"
        )
    if run.crash:
        raise CommandFailed(
            f"rank {rank}: {run.crash}", "a peer rank may have died; check every rank's log"
        )
    if rank != 0:
        return None
    rows = [row_from_raw(r) for r in run.results]
    rows += [crash_row(bad.reason, []) for bad in run.bad]
    devices = [
        {
            "gpu": w.rank,
            "name": f"rank {w.rank}: {w.gpu} on {w.host}",
            "torch": w.torch,
            "host": w.host,
        }
        for w in run.ranks
    ]
    return VerifyResult(
        device=device,
        mode="collectives",
        rows=rows,
        devices=devices,
        seconds=time.monotonic() - started,
        host=platform.node(),
        python=python_record(target),
    )
