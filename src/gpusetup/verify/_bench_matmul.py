"""verify's matmul workload (fp32, tf32, fp16, bf16 and fp8 GEMMs), checked against fp64.

Loaded by path by _bench_child.py in the *target* interpreter, never imported by gpusetup. Stdlib +
torch only; each row goes out through the Bench it is given.
"""

import time

# CPU fp8: builds without a native kernel (most CPUs) emulate _scaled_mm, far slower than bf16, so
# its size is chosen by time from these (the smallest always runs: a row that ran is never skipped
# for being slow, so the outcome does not depend on the machine's load).
FP8_CPU_SIZES = (64, 128, 192, 256, 384)


def run(bench, dtype, started):
    """One matmul row: n x n by n x n at dtype, timed, then judged against fp64."""
    torch = bench.torch
    if dtype == "tf32" and not bench.cuda:
        return bench.result(
            "matmul", dtype, None, "TFLOP/s", {}, ok=True, reason="skipped: TF32 is a GPU mode"
        )
    if dtype == "fp8":
        return matmul_fp8(bench, started)
    bench.precision_flags(dtype)
    n = bench.sizes[0] if dtype not in ("fp32", "tf32") or not bench.cuda else bench.sizes[0] // 2
    n = bench.n_for(n, 4 if dtype in ("fp32", "tf32") else 2, 4)
    a = torch.randn(n, n, device=bench.device, dtype=bench.torch_dtype(dtype))
    b = torch.randn(n, n, device=bench.device, dtype=bench.torch_dtype(dtype))
    out = torch.empty(n, n, device=bench.device, dtype=bench.torch_dtype(dtype))
    seconds, iters = bench.timed(lambda: torch.matmul(a, b, out=out))
    bench.judged(
        "matmul",
        dtype,
        (torch.matmul(a, b), torch.matmul(a, b)),
        lambda rows: a[:rows].double() @ b.double(),
        2.0 * n**3 / seconds / 1e12,
        {"m": n, "n": n, "k": n, "iters": iters},
        started,
    )
    return None


def matmul_fp8(bench, started):
    torch = bench.torch
    fp8 = getattr(torch, "float8_e4m3fn", None)
    missing = fp8_missing(torch, bench.gpu) if fp8 is not None else "this torch has no float8"
    if missing:
        return bench.result(
            "matmul", "fp8", None, "TFLOP/s", {}, ok=True, reason="skipped: " + missing
        )
    one = torch.ones((), device=bench.device)

    def operands(n):
        a32 = torch.randn(n, n, device=bench.device) / 4
        b32 = torch.randn(n, n, device=bench.device) / 4
        return a32.to(fp8), b32.to(fp8).t()  # _scaled_mm wants the second operand column-major

    def product(a, b):
        out = torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        return out[0] if isinstance(out, tuple) else out  # torch < 2.4 also returned amax

    n = bench.n_for(bench.sizes[0], 1, 4) if bench.cuda else fp8_cpu_size(bench, operands, product)
    a, b = operands(n)
    seconds, iters = bench.timed(lambda: product(a, b))
    bench.judged(
        "matmul",
        "fp8",
        (product(a, b).float(), product(a, b).float()),
        lambda rows: a[:rows].float().double() @ b.float().double(),
        2.0 * n**3 / seconds / 1e12,
        {"m": n, "n": n, "k": n, "iters": iters},
        started,
    )
    return None


def fp8_cpu_size(bench, operands, product):
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
        if n <= bench.sizes[0] and once * (n / smallest) ** 3 <= bench.sample_seconds
    ]
    return fits[-1] if fits else smallest


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
