"""verify's bandwidth workloads: device memory, pinned host copies (h2d, d2h), GPU-to-GPU copies (p2p).

Loaded by path by _bench_child.py in the *target* interpreter, never imported by gpusetup. Stdlib +
torch only; each row goes out through the Bench it is given (p2p, which spans GPUs, through emit).
"""

import statistics
import time


def memory(bench, started):
    """Device-memory copy bandwidth, bytes read + written, with every copied value checked."""
    torch = bench.torch
    mib = bench.sizes[4]
    if bench.cuda:
        free, _ = torch.cuda.mem_get_info(bench.gpu)
        while mib > 64 and 2 * mib * 2**20 > free / 4:
            mib //= 2
    count = mib * 2**20 // 4
    # Not zeros (a fresh zeroed page can be read without touching memory); arange is written
    # at memory speed, where randn costs more than the measurement on a CPU.
    src = torch.arange(count, device=bench.device, dtype=torch.float32)
    dst = torch.empty_like(src)
    flush = torch.empty((256 if bench.cuda else 64) * 2**20 // 4, device=bench.device)
    seconds, iters = bench.timed(lambda: dst.copy_(src), before=lambda: flush.zero_())
    wrong = 0 if torch.equal(dst, src) else int((dst != src).sum())  # equal(): no bool copy
    gbps = 2.0 * count * 4 / seconds / 1e9  # bytes read + bytes written
    bench.finish(
        "memory",
        "fp32",
        gbps,
        "GB/s",
        {"bytes": count * 4, "counted": "read+write", "iters": iters},
        started,
        None,
        0,
        None,
        problems=["%d values differ from their source after the copy" % wrong] if wrong else [],
    )


def host_copies(bench, started):
    """Pinned host-to-device and device-to-host copy bandwidth, one row each."""
    torch = bench.torch
    count = bench.sizes[5] * 2**20 // 4
    host = torch.randn(count).pin_memory()
    device = torch.empty(count, device=bench.device)
    for name, fn in (
        ("h2d", lambda: device.copy_(host, non_blocking=True)),
        ("d2h", lambda: host.copy_(device, non_blocking=True)),
    ):
        seconds, iters = bench.timed(fn)
        bench.finish(
            name,
            "fp32",
            count * 4 / seconds / 1e9,
            "GB/s",
            {"bytes": count * 4, "pinned": True, "iters": iters},
            started,
            None,
            0,
            None,
        )
        started = time.perf_counter()


def p2p_matrix(torch, gpus, mode, emit):
    """Copy bandwidth for every ordered pair of GPUs, and whether the pair has peer access."""
    count = (256 if mode == "quick" else 1024) * 2**20 // 4
    for src in gpus:
        for dst in gpus:
            if src == dst:
                continue
            peer = bool(torch.cuda.can_device_access_peer(src, dst))
            a = torch.randn(count, device="cuda:%d" % src)
            b = torch.empty(count, device="cuda:%d" % dst)
            for _ in range(3):
                b.copy_(a)
            times = []
            for _ in range(5 if mode == "quick" else 15):
                torch.cuda.synchronize(src)
                torch.cuda.synchronize(dst)
                start = time.perf_counter()
                b.copy_(a)
                torch.cuda.synchronize(src)  # the copy may be ordered on either device's stream
                torch.cuda.synchronize(dst)
                times.append(time.perf_counter() - start)
            ok = bool(torch.equal(b.to(a.device), a))
            emit(
                "RESULT",
                {
                    "gpu": src,
                    "name": torch.cuda.get_device_name(src),
                    "benchmark": "p2p",
                    "dtype": "to gpu%d" % dst,
                    "value": count * 4 / statistics.median(times) / 1e9,
                    "unit": "GB/s",
                    "size": {"bytes": count * 4, "peer_access": peer},
                    "seconds": round(sum(times), 3),
                    "ok": ok,
                    "reason": ("" if peer else "no P2P: staged through host memory")
                    + ("" if ok else "copy arrived corrupted"),
                    "error": None,
                    "nonfinite": 0,
                    "repeatable": None,
                },
            )
            del a, b
