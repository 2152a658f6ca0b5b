"""verify's benchmarks: run as a script in the *target* interpreter, never imported by gpusetup.

Stdlib + torch only. Reads a JSON config on stdin; prints one line per event:
  GPUSETUP-DEVICE:{...}   a device about to be measured
  GPUSETUP-RESULT:{...}   one measured and checked operation
  GPUSETUP-FATAL:{...}    the runtime cannot run at all (no torch, a CPU build, CUDA init fails)
  GPUSETUP-DONE:{...}     the end
Every device runs in its own thread at the same time (power and heat interact on a node).
"""

import contextlib
import json
import math
import os
import statistics
import sys
import threading
import time

STARTED = time.perf_counter()  # start-up (torch import, CUDA init) is part of verify's time budget
LOCK = threading.Lock()
MARK = "GPUSETUP-"
# Largest acceptable relative error (Frobenius norm, against fp64) per dtype. Each is about
# eps(dtype) * sqrt(K) for the sizes used, with headroom; a flipped exponent bit is orders larger.
TOLERANCE = {"fp32": 1e-4, "tf32": 5e-3, "fp16": 1e-2, "bf16": 3e-2, "fp8": 5e-2}
# cudnn.benchmark may pick Winograd or FFT convolutions, whose transforms add rounding error of their
# own (largest in fp32, where the GEMM error is tiny): convolutions get this many times more room.
CONV_SLACK = {"fp32": 10.0, "tf32": 2.0, "fp16": 3.0, "bf16": 2.0}
SIZES = {
    # mode -> (matmul n, conv batch, conv channels, conv spatial, copy MiB, pinned MiB)
    "quick": (8192, 32, 256, 56, 1024, 256),
    "full": (16384, 128, 256, 56, 4096, 1024),
    "cpu": (384, 2, 32, 28, 64, 0),
}
# CPU fp8: builds without a native kernel (most CPUs) emulate _scaled_mm, far slower than bf16, so
# its size is chosen by time from these (the smallest always runs: a row that ran is never skipped
# for being slow, so the outcome does not depend on the machine's load).
FP8_CPU_SIZES = (64, 128, 192, 256, 384)
TIMING = {  # mode -> (warm-up seconds at most, samples, seconds per sample)
    "quick": (0.5, 5, 0.04),
    "full": (4.0, 15, 0.1),
    "cpu": (0.1, 5, 0.02),  # CPU runs exercise the pipeline in CI: about 0.3 s a row
}


def emit(kind, payload):
    """One event line; JSON has no NaN or Infinity, so a non-finite number is sent as null (the
    row's reason says what was not finite: a NaN loss, say)."""
    line = json.dumps(finite(payload))
    with LOCK:
        sys.stdout.write(MARK + kind + ":" + line + "\n")
        sys.stdout.flush()


def finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def main():
    config = json.loads(sys.stdin.read() or "{}")
    try:
        import torch
    except ImportError as err:
        emit(
            "FATAL",
            {
                "kind": "torch-missing"
                if getattr(err, "name", "") == "torch"
                else "torch-import-failed",
                "error": "%s: %s" % (type(err).__name__, err),
            },
        )
        return
    except Exception as err:
        emit(
            "FATAL", {"kind": "torch-import-failed", "error": "%s: %s" % (type(err).__name__, err)}
        )
        return
    devices = config.get("devices") or ["all"]
    if devices != ["cpu"]:
        devices = cuda_devices(torch, devices)
        if devices is None:
            return
    with contextlib.suppress(Exception):  # a stand-in torch without it still gets its rows
        torch.manual_seed(int(config.get("seed", 0)))
    # The precision flags (allow_tf32, cudnn.benchmark) are process-wide: every device thread takes
    # each step together, so all GPUs run the same operation, with the same flags, at the same time.
    step = threading.Barrier(len(devices))
    threads = [threading.Thread(target=run_device, args=(torch, d, config, step)) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(devices) > 1 and devices[0] != "cpu" and "p2p" in config.get("benchmarks", ["p2p"]):
        p2p_matrix(torch, [int(d.split(":")[1]) for d in devices], config.get("mode", "quick"))
    emit("DONE", {"devices": len(devices)})


def p2p_matrix(torch, gpus, mode):
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


def cuda_devices(torch, wanted):
    if not torch.version.cuda:
        emit(
            "FATAL",
            {"kind": "cpu-build", "error": "torch %s is built without CUDA" % torch.__version__},
        )
        return None
    try:
        torch.cuda.init()
        count = torch.cuda.device_count()
    except Exception as err:
        emit("FATAL", {"kind": "cuda-init-failed", "error": "%s: %s" % (type(err).__name__, err)})
        return None
    if count == 0:
        emit("FATAL", {"kind": "no-gpu", "error": "torch sees no CUDA device"})
        return None
    if wanted == ["all"]:
        return ["cuda:%d" % i for i in range(count)]
    bad = [w for w in wanted if int(w) >= count]
    if bad:
        emit(
            "FATAL",
            {
                "kind": "bad-device",
                "error": "device %s does not exist: torch sees %d" % (bad[0], count),
            },
        )
        return None
    return ["cuda:%s" % w for w in wanted]


def run_device(torch, device, config, step):
    try:
        measure_device(torch, device, config, step)
    finally:
        step.abort()  # after the last step this frees no one; after a crash it frees the others


def measure_device(torch, device, config, step):
    mode = "cpu" if device == "cpu" else config.get("mode", "quick")
    gpu = -1 if device == "cpu" else int(device.split(":")[1])
    if gpu >= 0:  # the current device is per thread: make it this thread's own GPU
        torch.cuda.set_device(gpu)
    else:
        cpu_threads(torch, config)
    info = describe(torch, device, gpu)
    info["startup_seconds"] = round(time.perf_counter() - STARTED, 3)
    emit("DEVICE", info)
    bench = Bench(torch, device, gpu, mode, info["name"], config)
    dtypes = config.get("dtypes", ["fp32", "tf32", "fp16", "bf16", "fp8"])
    for benchmark in [
        b for b in config.get("benchmarks", ["matmul", "conv", "memory", "h2d"]) if b != "p2p"
    ]:
        # Bandwidth does not depend on a dtype: measured once, with fp32 buffers.
        for dtype in dtypes if benchmark in ("matmul", "conv") else ["fp32"]:
            together(step)
            try:
                bench.run(benchmark, dtype)
            except Exception as err:  # a failing kernel is a failed result, not a dead run
                bench.result(
                    benchmark,
                    dtype,
                    None,
                    "",
                    {},
                    ok=False,
                    reason="%s: %s" % (type(err).__name__, str(err).splitlines()[0][:200]),
                )
                if device != "cpu":
                    torch.cuda.empty_cache()


def cpu_threads(torch, config):
    """The CPU path exercises the pipeline (it is not judged), on CI machines whose few cores are
    shared: one intra-op thread, as a second one that the scheduler parks stalls every kernel at its
    barrier (30-100x slower on a loaded 2-core machine). config["cpu_threads"] sets another count."""
    with contextlib.suppress(Exception):
        torch.set_num_threads(max(1, int(config.get("cpu_threads", 1))))


def together(step):
    """Wait for the other device threads; a thread that died only breaks the barrier, never hangs it."""
    with contextlib.suppress(threading.BrokenBarrierError):
        step.wait(timeout=600)


def read_fields(info, reads):
    """Each device fact read on its own: a torch build without one attribute loses only that fact,
    named in info["unavailable"] with the reason."""
    for key, read in reads:
        try:
            info[key] = read()
        except Exception as err:  # the fact keeps its default ("" or 0)
            info.setdefault("unavailable", {})[key] = "%s: %s" % (
                type(err).__name__,
                (str(err).splitlines() or [""])[0][:200],
            )
    return info


def describe(torch, device, gpu):
    info = {"gpu": gpu, "capability": "", "pci_bus_id": "", "uuid": "", "memory_mib": 0}
    if device == "cpu":
        info["name"] = "cpu"
        return read_fields(
            info,
            [
                ("torch", lambda: str(torch.__version__)),
                ("threads", lambda: torch.get_num_threads()),
            ],
        )
    props = {}
    read_fields(props, [("props", lambda: torch.cuda.get_device_properties(gpu))])
    p = props.get("props")  # None when it could not be read: each fact below is then unavailable
    info["name"] = str(getattr(p, "name", "GPU %d" % gpu))
    if "unavailable" in props:
        info["unavailable"] = props["unavailable"]
    # The same format as facts/_torch_probe.py: child scripts are self-contained (the target interpreter
    # may not have gpusetup installed), so each carries its own copy.
    return read_fields(
        info,
        [
            ("capability", lambda: "%d.%d" % (p.major, p.minor)),
            ("pci_bus_id", lambda: bus_id(p)),
            ("uuid", lambda: str(getattr(p, "uuid", ""))),
            ("memory_mib", lambda: int(p.total_memory) // 2**20),
            ("torch", lambda: str(torch.__version__)),
            ("cuda", lambda: torch.version.cuda),
            ("cudnn", lambda: torch.backends.cudnn.version()),
        ],
    )


def bus_id(props):
    if not hasattr(props, "pci_bus_id"):
        return ""
    return "%08X:%02X:%02X.0" % (
        getattr(props, "pci_domain_id", 0),
        props.pci_bus_id,
        getattr(props, "pci_device_id", 0),
    )


class Bench:
    def __init__(self, torch, device, gpu, mode, name, config):
        self.torch, self.device, self.gpu, self.mode, self.name = torch, device, gpu, mode, name
        self.cuda = device != "cpu"
        self.fault = config.get("fault") or ""  # tests plant a corruption here: "matmul:fp32"
        self.config = config
        self.sizes = SIZES[mode]
        if config.get("matmul_n"):  # tests: a GPU-like size on the CPU
            self.sizes = (int(config["matmul_n"]), *self.sizes[1:])
        self.warmup_max, self.samples, self.sample_seconds = TIMING[mode]

    # -- timing -------------------------------------------------------------------------------
    def timed(self, fn, before=None):
        """Median seconds per call: warm up until two windows agree within 2 %, then time samples."""
        per_call = self._window(fn, 1)
        deadline = time.perf_counter() + self.warmup_max
        previous = None
        while time.perf_counter() < deadline:
            iters = max(1, int(self.sample_seconds / max(per_call, 1e-7)))
            per_call = self._window(fn, iters)
            if previous is not None and abs(per_call - previous) <= 0.02 * previous:
                break
            previous = per_call
        iters = max(1, int(self.sample_seconds / max(per_call, 1e-7)))
        times = []
        for _ in range(self.samples):
            if before is not None:
                before()
            times.append(self._window(fn, iters))
        return statistics.median(times), iters

    def _window(self, fn, iters):
        if not self.cuda:
            start = time.perf_counter()
            for _ in range(iters):
                fn()
            return (time.perf_counter() - start) / iters
        torch = self.torch
        stream = torch.cuda.current_stream(self.device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        for _ in range(iters):  # no host synchronisation inside the timed region
            fn()
        end.record(stream)
        end.synchronize()
        return start.elapsed_time(end) / 1000.0 / iters

    # -- results ------------------------------------------------------------------------------
    def result(
        self,
        benchmark,
        dtype,
        value,
        unit,
        size,
        ok=True,
        reason="",
        seconds=0.0,
        error=None,
        nonfinite=0,
        repeatable=None,
        worst=None,
    ):
        emit(
            "RESULT",
            {
                "gpu": self.gpu,
                "name": self.name,
                "benchmark": benchmark,
                "dtype": dtype,
                "value": value,
                "unit": unit,
                "size": size,
                "seconds": round(seconds, 3),
                "ok": ok,
                "reason": reason,
                "error": error,
                "nonfinite": nonfinite,
                "repeatable": repeatable,
                "worst_vs_rms": worst,  # the largest single error vs fp64, in RMS units
            },
        )

    def run(self, benchmark, dtype):
        started = time.perf_counter()
        if benchmark == "matmul":
            self.matmul(dtype, started)
        elif benchmark == "conv":
            self.conv(dtype, started)
        elif benchmark == "memory":
            self.memory(started)
        elif benchmark == "h2d" and self.cuda:
            self.host_copies(started)
        elif benchmark in ("compile", "attention", "train-step"):
            pt2_workloads().run(self, benchmark, self.config)

    def _flags(self, dtype):
        """Explicit precision flags on a GPU; on the CPU they change nothing, so a torch without them
        (a stand-in, a build without CUDA modules) still runs its CPU rows."""
        try:
            set_tf32(self.torch, dtype == "tf32")
            self.torch.backends.cudnn.benchmark = True
        except Exception:
            if self.cuda:
                raise

    def _dtype(self, dtype):
        torch = self.torch
        return {
            "fp32": torch.float32,
            "tf32": torch.float32,
            "fp16": torch.float16,
            "bf16": torch.bfloat16,
        }[dtype]

    def _n_for(self, n, bytes_per, count):
        """Shrink n until count matrices fit in a quarter of the free memory."""
        if not self.cuda:
            return n
        free, _ = self.torch.cuda.mem_get_info(self.gpu)
        while n > 1024 and count * n * n * bytes_per > free / 4:
            n //= 2
        return n

    # -- matmul -------------------------------------------------------------------------------
    def matmul(self, dtype, started):
        torch = self.torch
        if dtype == "tf32" and not self.cuda:
            return self.result(
                "matmul", dtype, None, "TFLOP/s", {}, ok=True, reason="skipped: TF32 is a GPU mode"
            )
        if dtype == "fp8":
            return self.matmul_fp8(started)
        self._flags(dtype)
        n = self.sizes[0] if dtype not in ("fp32", "tf32") or not self.cuda else self.sizes[0] // 2
        n = self._n_for(n, 4 if dtype in ("fp32", "tf32") else 2, 4)
        a = torch.randn(n, n, device=self.device, dtype=self._dtype(dtype))
        b = torch.randn(n, n, device=self.device, dtype=self._dtype(dtype))
        out = torch.empty(n, n, device=self.device, dtype=self._dtype(dtype))
        seconds, iters = self.timed(lambda: torch.matmul(a, b, out=out))
        self.judged(
            "matmul",
            dtype,
            (torch.matmul(a, b), torch.matmul(a, b)),
            lambda rows: a[:rows].double() @ b.double(),
            2.0 * n**3 / seconds / 1e12,
            {"m": n, "n": n, "k": n, "iters": iters},
            started,
        )
        return None

    def matmul_fp8(self, started):
        torch = self.torch
        fp8 = getattr(torch, "float8_e4m3fn", None)
        missing = fp8_missing(torch, self.gpu) if fp8 is not None else "this torch has no float8"
        if missing:
            return self.result(
                "matmul", "fp8", None, "TFLOP/s", {}, ok=True, reason="skipped: " + missing
            )
        one = torch.ones((), device=self.device)

        def operands(n):
            a32 = torch.randn(n, n, device=self.device) / 4
            b32 = torch.randn(n, n, device=self.device) / 4
            return a32.to(fp8), b32.to(fp8).t()  # _scaled_mm wants the second operand column-major

        def product(a, b):
            out = torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
            return out[0] if isinstance(out, tuple) else out  # torch < 2.4 also returned amax

        n = self._n_for(self.sizes[0], 1, 4) if self.cuda else self.fp8_cpu_size(operands, product)
        a, b = operands(n)
        seconds, iters = self.timed(lambda: product(a, b))
        self.judged(
            "matmul",
            "fp8",
            (product(a, b).float(), product(a, b).float()),
            lambda rows: a[:rows].float().double() @ b.float().double(),
            2.0 * n**3 / seconds / 1e12,
            {"m": n, "n": n, "k": n, "iters": iters},
            started,
        )
        return None

    def fp8_cpu_size(self, operands, product):
        """The largest CPU fp8 size whose product fits one timing sample, judged from the smallest
        (the emulated kernel's cost grows as n^3)."""
        smallest = FP8_CPU_SIZES[0]
        a, b = operands(smallest)
        product(a, b)  # first call: allocation and dispatch
        begin = time.perf_counter()
        product(a, b)
        once = max(time.perf_counter() - begin, 1e-7)
        fits = [
            n
            for n in FP8_CPU_SIZES
            if n <= self.sizes[0] and once * (n / smallest) ** 3 <= self.sample_seconds
        ]
        return fits[-1] if fits else smallest

    # -- convolution --------------------------------------------------------------------------
    def conv(self, dtype, started):
        torch = self.torch
        if dtype == "tf32" and self.mode == "quick":
            self.result(
                "conv-fwd",
                dtype,
                None,
                "TFLOP/s",
                {},
                ok=True,
                reason="skipped: the tf32 convolution runs with --full",
            )
            return None
        if dtype in ("tf32", "fp8") and (not self.cuda or dtype == "fp8"):
            return self.result(
                "conv-fwd",
                dtype,
                None,
                "TFLOP/s",
                {},
                ok=True,
                reason="skipped: no %s convolution" % dtype,
            )
        self._flags(dtype)
        batch, channels, side = self.sizes[1], self.sizes[2], self.sizes[3]
        kind = self._dtype(dtype)
        x = torch.randn(batch, channels, side, side, device=self.device, dtype=kind).to(
            memory_format=torch.channels_last
        )
        w = (
            torch.randn(channels, channels, 3, 3, device=self.device, dtype=kind).to(
                memory_format=torch.channels_last
            )
            / 24
        )
        x.requires_grad_(True)
        w.requires_grad_(True)
        forward = lambda: torch.nn.functional.conv2d(x, w, padding=1)  # noqa: E731
        out = forward()
        grad = torch.randn_like(out)
        flops = 2.0 * batch * channels * channels * 9 * side * side
        size = {
            "batch": batch,
            "channels": channels,
            "height": side,
            "width": side,
            "kernel": 3,
            "layout": "channels_last",
        }
        with torch.no_grad():
            seconds, iters = self.timed(forward)
            first, second = forward(), forward()
        self.judged(
            "conv-fwd",
            dtype,
            (first, second),
            lambda rows: torch.nn.functional.conv2d(fp64(x[:rows]), fp64(w), padding=1),
            flops / seconds / 1e12,
            dict(size, iters=iters),
            started,
            rows=1,
        )
        started = time.perf_counter()
        if self.cuda:
            backward = lambda: torch.autograd.grad(out, (x, w), grad, retain_graph=True)  # noqa: E731
        else:
            # The same gradients through a scalar loss: torch's first grad_outputs call imports
            # sympy (1-2 s on a loaded CI machine), and the CPU path exercises, it does not judge;
            # the loss adds one elementwise product, under 1 % of the CPU convolution's time.
            loss = (out * grad).sum()
            backward = lambda: torch.autograd.grad(loss, (x, w), retain_graph=True)  # noqa: E731
        seconds, iters = self.timed(backward)
        dx, dw = backward()
        self.plant("conv-bwd", dtype, dx, dw)
        dx64, dw64 = conv_grads_fp64(torch, x, w, grad, channels=16)
        checks = [
            check_against_fp64(torch, dx, lambda rows: dx64, rows=1),
            check_against_fp64(torch, dw, lambda rows: dw64, rows=dw64.shape[0]),
        ]
        # cuDNN's backward kernels may accumulate with atomics: no bit-identical repeat is asked.
        self.finish(
            "conv-bwd",
            dtype,
            2 * flops / seconds / 1e12,
            "TFLOP/s",
            dict(size, iters=iters),
            started,
            max(c[0] for c in checks),
            sum(c[2] for c in checks),
            None,
            max(c[1] for c in checks),
        )
        return None

    # -- memory -------------------------------------------------------------------------------
    def memory(self, started):
        torch = self.torch
        mib = self.sizes[4]
        if self.cuda:
            free, _ = torch.cuda.mem_get_info(self.gpu)
            while mib > 64 and 2 * mib * 2**20 > free / 4:
                mib //= 2
        count = mib * 2**20 // 4
        # Not zeros (a fresh zeroed page can be read without touching memory); arange is written
        # at memory speed, where randn costs more than the measurement on a CPU.
        src = torch.arange(count, device=self.device, dtype=torch.float32)
        dst = torch.empty_like(src)
        flush = torch.empty((256 if self.cuda else 64) * 2**20 // 4, device=self.device)
        seconds, iters = self.timed(lambda: dst.copy_(src), before=lambda: flush.zero_())
        wrong = 0 if torch.equal(dst, src) else int((dst != src).sum())  # equal(): no bool copy
        gbps = 2.0 * count * 4 / seconds / 1e9  # bytes read + bytes written
        self.finish(
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

    def host_copies(self, started):
        torch = self.torch
        count = self.sizes[5] * 2**20 // 4
        host = torch.randn(count).pin_memory()
        device = torch.empty(count, device=self.device)
        for name, fn in (
            ("h2d", lambda: device.copy_(host, non_blocking=True)),
            ("d2h", lambda: host.copy_(device, non_blocking=True)),
        ):
            seconds, iters = self.timed(fn)
            self.finish(
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

    # -- verdicts -----------------------------------------------------------------------------
    def plant(self, benchmark, dtype, first, second):
        """Tests plant one wrong element here, as failing hardware would; the checks must catch it.

        "matmul:bf16" corrupts both runs the same way (a deterministic fault: only the fp64 check can
        see it); "matmul:bf16:once" corrupts the first run only (the repeat check must see it).
        """
        if self.fault.startswith("%s:%s" % (benchmark, dtype)):
            for tensor in (first,) if self.fault.endswith(":once") else (first, second):
                tensor[(0,) * tensor.dim()] += 1000.0  # in place, whatever the memory layout

    def judged(self, benchmark, dtype, pair, reference_rows, tflops, size, started, rows=256):
        """Check two runs of one operation (fp64 reference, NaN/Inf, bit-identical repeat), then report."""
        first, second = pair
        self.plant(benchmark, dtype, first, second)
        error, worst, nonfinite = check_against_fp64(self.torch, first, reference_rows, rows=rows)
        repeatable = bool(self.torch.equal(first, second)) if nonfinite == 0 else False
        self.finish(
            benchmark, dtype, tflops, "TFLOP/s", size, started, error, nonfinite, repeatable, worst
        )

    def finish(
        self,
        benchmark,
        dtype,
        value,
        unit,
        size,
        started,
        error,
        nonfinite,
        repeatable,
        worst=None,
        problems=(),
    ):
        problems = list(problems)
        tolerance = TOLERANCE.get(dtype, 1e-4)
        if benchmark.startswith("conv"):
            tolerance *= CONV_SLACK.get(dtype, 1.0)
        if nonfinite:
            problems.append("%d NaN/Inf values" % nonfinite)
        if error is not None and error > tolerance:
            problems.append("relative error %.2e vs fp64 exceeds %.0e" % (error, tolerance))
        if worst is not None and worst > 10 * tolerance:
            problems.append(
                "one value is off by %.3g x the RMS value vs fp64 (limit %.2g)"
                % (worst, 10 * tolerance)
            )
        if repeatable is False:
            problems.append("the same operation repeated gave different bits")
        self.result(
            benchmark,
            dtype,
            value,  # full precision: verify rounds for display only (a slow CPU rate is not 0)
            unit,
            size,
            ok=not problems,
            reason="; ".join(problems),
            seconds=time.perf_counter() - started,
            error=finite_or_none(error),
            nonfinite=nonfinite,
            repeatable=repeatable,
            worst=finite_or_none(worst),
        )


def finite_or_none(number):
    """JSON has no NaN or Infinity: a non-finite error is said in the reason, and sent as null."""
    return number if number is None or abs(number) < float("inf") else None


def pt2_workloads():
    """_pt2_child.py beside this script (compile, attention, train-step), loaded by path once."""
    module = sys.modules.get("_gpusetup_pt2_child")
    if module is None:
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_pt2_child.py")
        spec = importlib.util.spec_from_file_location("_gpusetup_pt2_child", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["_gpusetup_pt2_child"] = module
    return module


def set_tf32(torch, on):
    """fp32 matmul and convolution precision, IEEE or TF32 (verify measures each as its own line).

    torch 2.9+ has per-backend fp32_precision settings and raises when they are mixed with the legacy
    allow_tf32 flags, so the new API is used wherever it exists.
    """
    matmul, conv = torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None)
    if hasattr(matmul, "fp32_precision") and hasattr(conv, "fp32_precision"):
        matmul.fp32_precision = conv.fp32_precision = "tf32" if on else "ieee"
    else:
        matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on


def fp8_missing(torch, gpu):
    """Why an fp8 GEMM cannot run here ("" when it can): GPUs need sm_89+, CPU builds a CPU kernel."""
    if not hasattr(torch, "_scaled_mm"):
        return "this torch has no torch._scaled_mm"
    if gpu >= 0:
        capability = torch.cuda.get_device_capability(gpu)
        if capability < (8, 9):
            return "fp8 GEMMs need sm_89+, this is sm_%d%d" % capability
        return ""
    try:
        tiny = torch.zeros(16, 16).to(torch.float8_e4m3fn)
        one = torch.ones(())
        torch._scaled_mm(tiny, tiny.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    except Exception as err:  # older CPU builds have no fp8 kernel
        return "no CPU fp8 GEMM in torch %s (%s)" % (torch.__version__, type(err).__name__)
    return ""


def fp64(tensor):
    """An fp64 copy in the default (NCHW) layout: the reference takes the plainest path on any backend."""
    return tensor.double().contiguous()


def conv_grads_fp64(torch, x, w, grad, channels):
    """fp64 gradients on slices, as for the matmul (fp64 is slow on most GPUs): the input gradient of
    the first image, and the weight gradient of the first output channels (a sum over the whole batch).
    """
    conv = torch.nn.functional.conv2d
    grad = grad.detach()
    with torch.enable_grad():  # scalar losses: the same gradients, without grad_outputs (see conv)
        x1 = fp64(x[:1].detach()).requires_grad_(True)
        loss = (conv(x1, fp64(w.detach()), padding=1) * fp64(grad[:1])).sum()
        (dx,) = torch.autograd.grad(loss, (x1,))
        w_few = fp64(w[:channels].detach()).requires_grad_(True)
        out = conv(fp64(x.detach()), w_few, padding=1)
        (dw,) = torch.autograd.grad((out * fp64(grad[:, :channels])).sum(), (w_few,))
    return dx, dw


def check_against_fp64(torch, result, reference_rows, rows=256):
    """Errors of the first rows against an fp64 computation, and the NaN/Inf count.

    Two measures: the relative Frobenius error (catches broad drift) and the largest single error in
    units of the reference's RMS value (a norm over millions of values dilutes one wrong element).
    """
    with torch.no_grad():
        nonfinite = int((~torch.isfinite(result)).sum())
        rows = min(rows, result.shape[0])
        expected = reference_rows(rows)
        diff = result[:rows].double() - expected
        norm = torch.linalg.vector_norm(expected).clamp_min(1e-30)
        error = float(torch.linalg.vector_norm(diff) / norm)
        rms = norm / (expected.numel() ** 0.5)
        worst = float(diff.abs().max() / rms)
    error = float("inf") if error != error else error  # NaN -> inf
    worst = float("inf") if worst != worst else worst
    return error, worst, nonfinite


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd(), here)]
    main()
