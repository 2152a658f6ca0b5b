"""verify --collectives: one rank's part, run as a script in the target interpreter under a launcher.

Stdlib + torch only. torchrun (or srun) starts one gpusetup per rank; each starts this script with
the launcher's environment. It measures all-reduce, all-gather and reduce-scatter with the same
algbw/busbw definitions as NVIDIA's nccl-tests, checks every reduced value exactly, and rank 0 prints
every rank's numbers (host, GPU) as GPUSETUP-RESULT / GPUSETUP-RANK lines.
"""

import datetime
import json
import os
import socket
import statistics
import sys
import time

MARK = "GPUSETUP-"
SIZES = {"gpu": (1 << 20, 64 << 20, 256 << 20), "cpu": (64 << 10, 4 << 20)}  # bytes per rank buffer
ITERS = {"gpu": (5, 20), "cpu": (2, 5)}  # warm-up, timed
# nccl-tests' bus bandwidth factors: busbw = algbw * factor(n)
FACTOR = {
    "all_reduce": lambda n: 2.0 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
}


def emit(kind, payload):
    sys.stdout.write(MARK + kind + ":" + json.dumps(payload) + "\n")
    sys.stdout.flush()


def launcher_env():
    """torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; srun sets SLURM_*; map the latter onto the former."""
    env = os.environ
    if "RANK" not in env and "SLURM_PROCID" in env:
        env["RANK"] = env["SLURM_PROCID"]
        env["WORLD_SIZE"] = env.get("SLURM_NTASKS", "1")
        env["LOCAL_RANK"] = env.get("SLURM_LOCALID", "0")
    return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0"))


def main():
    config = json.loads(sys.stdin.read() or "{}")
    timeout = float(config.get("timeout", 120))
    os.environ.setdefault(
        "TORCH_NCCL_BLOCKING_WAIT", "1"
    )  # so a dead peer raises instead of hanging
    try:
        import torch
        import torch.distributed as dist
    except ImportError as err:
        emit("FATAL", {"kind": "torch-missing", "error": str(err)})
        return
    rank, world, local = launcher_env()
    use_cuda = config.get("device") != "cpu"
    device = join(torch, dist, (rank, world, local), use_cuda, timeout)
    if device is None:
        return
    me = {
        "rank": rank,
        "host": socket.gethostname(),
        "local_rank": local,
        "torch": str(torch.__version__),
        "gpu": torch.cuda.get_device_name(device) if use_cuda else "cpu",
    }
    mode = "gpu" if use_cuda else "cpu"
    measured = []
    try:
        for op in ("all_reduce", "all_gather", "reduce_scatter"):
            for size in SIZES[mode]:
                measured.append(measure(torch, dist, op, size, world, rank, device, ITERS[mode]))
        everyone = all_gather_json(torch, dist, {"who": me, "measured": measured}, world, device)
    except Exception as err:
        collective_failed(err, me, timeout)
    if rank == 0:
        report(everyone, world)
    emit("DONE", {"rank": rank})
    dist.destroy_process_group()


def join(torch, dist, where, use_cuda, timeout):
    """This rank's device, once in the process group; None after a FATAL line saying why not."""
    rank, world, local = where
    if use_cuda and not torch.cuda.is_available():
        emit(
            "FATAL",
            {
                "kind": "cuda-init-failed",
                "error": "rank %d: torch.cuda.is_available() is False" % rank,
            },
        )
        return None
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    try:
        dist.init_process_group(
            "nccl" if use_cuda else "gloo",
            timeout=datetime.timedelta(seconds=timeout),
            rank=rank,
            world_size=world,
        )
    except Exception as err:
        emit(
            "FATAL",
            {
                "kind": "rendezvous-failed",
                "error": "rank %d: %s: %s" % (rank, type(err).__name__, err),
            },
        )
        return None
    return device


def collective_failed(err, me, timeout):
    """A collective raised (a peer died, hangs, or the network is down): say so and end this rank."""
    text = "%s: %s" % (type(err).__name__, (str(err).splitlines() or [""])[0][:160])
    if any(w in text.lower() for w in ("timeout", "timed out", "connection", "reset", "closed")):
        text += (
            " (a peer rank died, hangs, or the network between ranks is down; "
            "the wait ended after %.0f s)" % timeout
        )
    emit(
        "FATAL",
        {
            "kind": "collective-failed",
            "error": "rank %d on %s: %s" % (me["rank"], me["host"], text),
        },
    )
    os._exit(0)  # do not wait in the process-group teardown for peers that are gone


def all_gather_json(torch, dist, payload, world, device):
    """Every rank's payload, in rank order.

    Not dist.all_gather_object: it decodes through numpy, which torch does not depend on.
    """
    data = json.dumps(payload).encode("utf-8")
    size = torch.tensor([len(data)], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    lengths = [int(s.item()) for s in sizes]
    mine = torch.zeros(max(lengths), dtype=torch.uint8, device=device)
    mine[: len(data)] = torch.tensor(list(data), dtype=torch.uint8, device=device)
    gathered = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(gathered, mine)
    return [json.loads(bytes(t[:n].tolist())) for t, n in zip(gathered, lengths)]


def measure(torch, dist, op, size, world, rank, device, iters):
    count = size // 4
    value = float(rank + 1)
    if op == "all_reduce":
        buf = torch.full((count,), value, device=device)
        run = lambda: dist.all_reduce(buf)  # noqa: E731
    elif op == "all_gather":
        src = torch.full((count // world,), value, device=device)
        out = torch.empty(count // world * world, device=device)
        run = lambda: dist.all_gather_into_tensor(out, src)  # noqa: E731
    else:
        src = torch.full((count // world * world,), value, device=device)
        out = torch.empty(count // world, device=device)
        run = lambda: dist.reduce_scatter_tensor(out, src)  # noqa: E731
    warm, timed = iters
    for _ in range(warm):
        run()
    sync(torch, device)
    times = []
    for _ in range(timed):
        dist.barrier()
        start = time.perf_counter()
        run()
        sync(torch, device)
        times.append(time.perf_counter() - start)
    ok, detail = check(torch, op, world, rank, locals())
    seconds = statistics.median(times)
    total = count // world * world * 4 if op != "all_reduce" else count * 4
    # bandwidth is computed by rank 0 from the slowest rank's time (report)
    return {"op": op, "bytes": total, "seconds": seconds, "ok": ok, "detail": detail}


def sync(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check(torch, op, world, rank, scope):
    """Exact checks: integer-valued floats make every sum exact, so any difference is an error."""
    total = world * (world + 1) / 2.0
    with torch.no_grad():
        fresh_value = float(rank + 1)
        if op == "all_reduce":
            buf = scope["buf"]
            buf.fill_(fresh_value)
            scope["run"]()
            wrong = int((buf != total).sum())
        elif op == "all_gather":
            scope["run"]()
            out = scope["out"].view(world, -1)
            expected = torch.arange(1, world + 1, device=out.device, dtype=out.dtype).view(world, 1)
            wrong = int((out != expected).sum())
        else:
            scope["run"]()
            wrong = int((scope["out"] != total).sum())
    return wrong == 0, "" if wrong == 0 else "%d wrong values after %s" % (wrong, op)


def human(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return "%d%s" % (size, unit) if size == int(size) else "%.1f%s" % (size, unit)
        size /= 1024.0
    return str(size)


def report(everyone, world):
    """Rank 0: one result per operation and size, with the slowest rank named against the median."""
    for who in everyone:
        emit("RANK", who["who"])
    for index, first in enumerate(everyone[0]["measured"]):
        per_rank = [(e["who"], e["measured"][index]) for e in everyone]
        times = [m["seconds"] for _, m in per_rank]
        median = statistics.median(times)
        slow_who, slow = max(per_rank, key=lambda wm: wm[1]["seconds"])
        problems = [
            "rank %d (%s, %s): %s" % (w["rank"], w["host"], w["gpu"], m["detail"])
            for w, m in per_rank
            if not m["ok"]
        ]
        note = ""
        if world > 1 and slow["seconds"] > median * 1.10:
            note = "slowest: rank %d on %s (%s), %.0f%% slower than the median rank" % (
                slow_who["rank"],
                slow_who["host"],
                slow_who["gpu"],
                100 * (slow["seconds"] / median - 1),
            )
        emit(
            "RESULT",
            {
                "gpu": slow_who["rank"],
                "name": slow_who["gpu"],
                "benchmark": first["op"],
                "dtype": "fp32 %s" % human(first["bytes"]),
                # the bandwidth the slowest rank allows (the collective ends when it does)
                "value": first["bytes"] / slow["seconds"] / 1e9 * FACTOR[first["op"]](world),
                "unit": "GB/s",
                "size": {
                    "bytes": first["bytes"],
                    "ranks": world,
                    "counted": "busbw (nccl-tests)",
                    "algbw_gbps": first["bytes"] / slow["seconds"] / 1e9,
                },
                "seconds": round(sum(times), 3),
                "ok": not problems,
                "reason": "; ".join(problems) or note,
                "error": None,
                "nonfinite": 0,
                "repeatable": None,
            },
        )


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd(), here)]
    main()
