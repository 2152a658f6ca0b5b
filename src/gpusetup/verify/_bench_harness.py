"""The Bench every verify workload reports through: timing, result rows, checks against fp64.

Loaded by path by _bench_child.py in the *target* interpreter, never imported by gpusetup (nor by
path from sys.path). Stdlib + torch only; the event writer comes from _bench_child.py (one lock for
every device thread).
"""

import statistics
import time

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
TIMING = {  # mode -> (warm-up seconds at most, samples, seconds per sample)
    "quick": (0.5, 5, 0.04),
    "full": (4.0, 15, 0.1),
    "cpu": (0.1, 5, 0.02),  # CPU runs exercise the pipeline in CI: about 0.3 s a row
}


class Bench:
    def __init__(self, torch, device, gpu, mode, name, config, emit):
        self.torch, self.device, self.gpu, self.mode, self.name = torch, device, gpu, mode, name
        self.cuda = device != "cpu"
        self.fault = config.get("fault") or ""  # tests plant a corruption here: "matmul:fp32"
        self.config = config
        self.emit = emit
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
        self.emit(
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

    # -- set-up the workloads share -----------------------------------------------------------
    def precision_flags(self, dtype):
        """Explicit precision flags on a GPU; on the CPU they change nothing, so a torch without them
        (a stand-in, a build without CUDA modules) still runs its CPU rows."""
        try:
            set_tf32(self.torch, dtype == "tf32")
            self.torch.backends.cudnn.benchmark = True
        except Exception:
            if self.cuda:
                raise

    def torch_dtype(self, dtype):
        torch = self.torch
        return {
            "fp32": torch.float32,
            "tf32": torch.float32,
            "fp16": torch.float16,
            "bf16": torch.bfloat16,
        }[dtype]

    def n_for(self, n, bytes_per, count):
        """Shrink n until count matrices fit in a quarter of the free memory."""
        if not self.cuda:
            return n
        free, _ = self.torch.cuda.mem_get_info(self.gpu)
        while n > 1024 and count * n * n * bytes_per > free / 4:
            n //= 2
        return n

    # -- verdicts -----------------------------------------------------------------------------
    def plant(self, benchmark, dtype, first, second):
        """Tests plant one wrong element here, as failing hardware would; the checks must catch it.

        "matmul:bf16" corrupts both runs the same way (a deterministic fault: only the fp64 check can
        see it); "matmul:bf16:once" corrupts the first run only (the repeat check must see it).
        """
        if self.fault.startswith("%s:%s" % (benchmark, dtype)):
            for tensor in (first,) if self.fault.endswith(":once") else (first, second):
                tensor[(0,) * tensor.dim()] += 1000.0  # in place, whatever the memory layout

    def check(self, result, reference_rows, rows=256):
        """(relative error, worst error in RMS units, NaN/Inf count) of result against fp64."""
        return check_against_fp64(self.torch, result, reference_rows, rows=rows)

    def judged(self, benchmark, dtype, pair, reference_rows, tflops, size, started, rows=256):
        """Check two runs of one operation (fp64 reference, NaN/Inf, bit-identical repeat), then report."""
        first, second = pair
        self.plant(benchmark, dtype, first, second)
        error, worst, nonfinite = self.check(first, reference_rows, rows=rows)
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
        problems = list(problems) + verdict(benchmark, dtype, error, nonfinite, repeatable, worst)
        self.result(
            benchmark,
            dtype,
            value,  # full precision: verify rounds for display only (a slow CPU rate is not 0)
            unit,
            size,
            ok=not problems,
            reason="; ".join(problems),
            seconds=time.perf_counter() - started,
            error=error,
            nonfinite=nonfinite,
            repeatable=repeatable,
            worst=worst,
        )


def verdict(benchmark, dtype, error, nonfinite, repeatable, worst):
    """What is wrong with one measured operation's numbers (empty: nothing), each said in a line."""
    problems = []
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
    return problems


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
