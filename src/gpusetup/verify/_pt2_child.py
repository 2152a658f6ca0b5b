"""verify's PyTorch 2 workloads (compile, attention, train-step): loaded by path by _bench_child.py in
the *target* interpreter, never imported by gpusetup. Stdlib + torch only, Python 3.8 compatible.

Each workload reports through the Bench it is given (bench.result / bench.timed), so its rows look
like every other verify row; what a number means is in its `size` map.
"""

import contextlib
import math
import os
import re
import sys
import threading
import time
import warnings

COMPILE_LOCK = threading.Lock()
WORKLOADS = ("attention", "train-step", "compile")  # compile last: a hung compile ends the child
# mode -> compile (rows, width); attention (batch, heads, seq, head dim); train-step (layers, d_model,
# heads, seq, batch, vocab, steps)
SIZES = {
    "cpu": ((64, 128), (2, 4, 128, 32), (2, 64, 4, 64, 4, 128, 6)),
    "quick": ((4096, 1024), (4, 16, 1024, 64), (4, 512, 8, 512, 8, 8192, 10)),
    "full": ((8192, 2048), (8, 16, 4096, 128), (4, 512, 8, 512, 16, 8192, 30)),
}
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 3e-2}  # relative Frobenius error
COMPILE_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 5e-2}  # compiled vs eager: both rounded
BACKENDS = (  # (row name, SDPBackend member, old sdp_kernel flag)
    ("flash", "FLASH_ATTENTION", "enable_flash"),
    ("mem-efficient", "EFFICIENT_ATTENTION", "enable_mem_efficient"),
    ("cudnn", "CUDNN_ATTENTION", None),
    ("math", "MATH", "enable_math"),
)
ERROR_LINE = re.compile(
    r"(error:|cannot find -l|No working C\+\+ compiler|Failed to find C compiler|cannot found|"
    r"No such file or directory|Permission denied|Read-only file system|failed to map segment|"
    r"cannot import name|No module named|undefined reference)",
    re.I,
)


def run(bench, workload, config):
    """One workload on bench's device; every failure becomes a failed row, never an exception."""
    started = time.perf_counter()
    compiles = workload == "compile" or (workload == "train-step" and config.get("compile_train"))
    try:
        # Dynamo is not thread-safe: device threads take turns at anything that compiles.
        with COMPILE_LOCK if compiles else contextlib.nullcontext():
            if workload == "compile":
                _compile(bench, config)
            elif workload == "attention":
                _attention(bench)
            elif workload == "train-step":
                _train_step(bench, config)
    except Exception as err:
        text = "%s: %s" % (type(err).__name__, err)
        unit = "x eager" if workload == "compile" else "TFLOP/s"
        bench.result(
            workload,
            work_dtype(bench),
            None,
            unit,
            {},
            ok=False,
            reason=first_error_line(text),
            seconds=time.perf_counter() - started,
        )
        if bench.cuda:
            bench.torch.cuda.empty_cache()


def _train_step(bench, config):
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_pt2_train_child.py")
    spec = importlib.util.spec_from_file_location("_gpusetup_pt2_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dims = SIZES[bench.mode][2]
    if bench.mode == "quick" and config.get("quick"):
        dims = (*dims[:6], 6)  # --quick: a short train step
    fault = config.get("fault") or ""
    module.run(bench, dims, work_dtype(bench), bool(config.get("compile_train")), fault)


def work_dtype(bench):
    """The dtype PyTorch 2 recipes train in on this device: bf16 from sm_80, fp16 below, CPU fp32."""
    if not bench.cuda:
        return "fp32"
    major = bench.torch.cuda.get_device_capability(bench.gpu)[0]
    return "bf16" if major >= 8 else "fp16"


def _torch_dtype(torch, name):
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


def rel_error(torch, got, want):
    want = want.double()
    return float(torch.linalg.vector_norm(got.double() - want) / torch.linalg.vector_norm(want))


def first_error_line(text):
    """The compiler's or linker's own line (`/usr/bin/ld: cannot find -lcuda`), else the first line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    for line in lines:
        if ERROR_LINE.search(line):
            return line[:240]
    return lines[0][:240] if lines else ""


# ---- compile ----------------------------------------------------------------------------------


def _block(torch, x, w1, w2, gamma, beta):
    """matmul, pointwise, layer norm and a reduction: what Inductor fuses in a transformer MLP."""
    h = torch.nn.functional.gelu(x @ w1)
    y = torch.nn.functional.layer_norm(h @ w2 + x, (x.shape[-1],), gamma, beta)
    return y - y.mean(dim=-1, keepdim=True) * 0.5


def inductor_cache_dir(torch):
    """Where Inductor keeps what it built (the one thing verify leaves behind)."""
    for module, name in (
        ("torch._inductor.runtime.cache_dir_utils", "cache_dir"),
        ("torch._inductor.codecache", "cache_dir"),
    ):
        try:
            found = getattr(__import__(module, fromlist=[name]), name)
            return str(found())
        except Exception:
            continue
    return os.environ.get("TORCHINDUCTOR_CACHE_DIR", "")


def _compile(bench, config):
    torch, started = bench.torch, time.perf_counter()
    dtype = work_dtype(bench)
    rows, width = SIZES[bench.mode][0]
    kind = _torch_dtype(torch, dtype)
    gen = torch.Generator(device="cpu").manual_seed(1)
    x, w1, w2 = (
        torch.randn(shape, generator=gen).to(bench.device, kind) / math.sqrt(shape[-1])
        for shape in ((rows, width), (width, 4 * width), (4 * width, width))
    )
    gamma = torch.ones(width, device=bench.device, dtype=kind)
    beta = torch.zeros(width, device=bench.device, dtype=kind)
    args = (x * math.sqrt(width), w1, w2, gamma, beta)
    size = {"rows": rows, "width": width, "cache_dir": inductor_cache_dir(torch)}

    def eager():
        return _block(torch, *args)

    torch._dynamo.reset()  # a cold compile in this process (Inductor's on-disk cache may still help)
    compiled = torch.compile(lambda: _block(torch, *args), backend="inductor", dynamic=False)
    if "compile-hang" in (config.get("fault") or ""):  # tests plant a compile that never ends
        compiled = _hang
    outcome = _with_timeout(bench, compiled, float(config.get("compile_timeout") or 300))
    if outcome is None:
        return
    cold, result = outcome
    size["compile_seconds"] = round(cold, 3)
    error = rel_error(torch, result, eager())
    eager_s, _ = bench.timed(eager)
    compiled_s, iters = bench.timed(compiled)
    size.update(eager_ms=round(eager_s * 1e3, 4), compiled_ms=round(compiled_s * 1e3, 4))
    size["iters"], size["error_vs_eager"] = iters, error
    problems = []
    if error > COMPILE_TOLERANCE[dtype]:
        problems.append(
            "compiled differs from eager: %.2e > %.0e" % (error, COMPILE_TOLERANCE[dtype])
        )
    bench.result(
        "compile",
        dtype,
        round(eager_s / compiled_s, 3),
        "x eager",
        size,
        ok=not problems,
        reason="; ".join(problems) or "cold compile %.1f s" % cold,
        seconds=time.perf_counter() - started,
    )
    return


def _hang():
    time.sleep(3600)


def _with_timeout(bench, fn, limit):
    """(seconds, result) of the first (compiling) call; a failure or a hang becomes a failed row."""
    box = {}

    def call():
        start = time.perf_counter()
        try:
            if bench.cuda:  # the current device is per thread: this one's must be bench's GPU too
                bench.torch.cuda.set_device(bench.gpu)
            box["result"] = fn()
            if bench.cuda:
                bench.torch.cuda.synchronize(bench.gpu)
        except BaseException as err:
            box["error"] = err
        box["seconds"] = time.perf_counter() - start

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(limit)
    dtype = work_dtype(bench)
    if worker.is_alive():
        _hung(bench, dtype, limit)
    if "error" in box:
        err = box["error"]
        text = "%s: %s" % (type(err).__name__, err)
        bench.result(
            "compile",
            dtype,
            None,
            "x eager",
            {"cache_dir": inductor_cache_dir(bench.torch)},
            ok=False,
            reason="torch.compile failed: " + first_error_line(text),
            seconds=box.get("seconds", 0.0),
        )
        return None
    return box["seconds"], box["result"]


def _hung(bench, dtype, limit):
    """A compile past its limit: report it and end the run (compile runs last, so nothing is lost)."""
    bench.result(
        "compile",
        dtype,
        None,
        "x eager",
        {},
        ok=False,
        reason="torch.compile did not finish in %.0f s: ended by verify's compile timeout" % limit,
        seconds=limit,
    )
    emit = getattr(sys.modules.get("__main__"), "emit", None)
    if emit is not None:  # the benchmark child's own writer: the run ends here, on purpose
        emit("DONE", {"devices": 1, "ended_by": "compile timeout"})
    sys.stdout.flush()
    os._exit(0)  # a hung compile thread cannot be stopped any other way


# ---- attention --------------------------------------------------------------------------------


def _backend_context(torch, member, flag):
    """torch.nn.attention.sdpa_kernel (torch >= 2.3), else torch.backends.cuda.sdp_kernel."""
    attention = getattr(torch.nn, "attention", None)
    if attention is not None and hasattr(attention, "sdpa_kernel"):
        backend = getattr(attention.SDPBackend, member, None)
        return None if backend is None else attention.sdpa_kernel([backend])
    if flag is None:
        return None
    flags = {f: f == flag for f in ("enable_flash", "enable_math", "enable_mem_efficient")}
    return torch.backends.cuda.sdp_kernel(**flags)


def _attention(bench):
    torch = bench.torch
    dtype = work_dtype(bench)
    batch, heads, seq, dim = SIZES[bench.mode][1]
    gen = torch.Generator(device="cpu").manual_seed(2)
    q, k, v = (
        torch.randn(batch, heads, seq, dim, generator=gen).to(
            bench.device, _torch_dtype(torch, dtype)
        )
        for _ in range(3)
    )
    reference = torch.nn.functional.scaled_dot_product_attention(
        *(t[:1, :2].double().cpu() for t in (q, k, v)),
        is_causal=True,  # two heads: fp64 is slow
    )
    flops = 2.0 * batch * heads * seq * seq * dim  # two matmuls, causal: half of 4*B*H*S^2*D
    size = {"batch": batch, "heads": heads, "seq": seq, "head_dim": dim, "causal": True}
    for name, member, flag in BACKENDS:
        if not bench.cuda and name in ("mem-efficient", "cudnn"):
            _unavailable(bench, name, dtype, size, "CUDA-only")
        elif _backend_context(torch, member, flag) is None:
            _unavailable(bench, name, dtype, size, "not in torch %s" % torch.__version__)
        else:
            _backend(bench, (name, member, flag), (q, k, v), reference, dict(size, flops=flops))


def _backend(bench, backend, qkv, reference, size):
    """One SDPA backend forced on: unavailable, failed, or timed and checked against fp64."""
    torch, (name, member, flag), dtype = bench.torch, backend, work_dtype(bench)
    flops, started = size.pop("flops"), time.perf_counter()

    def attend():
        return torch.nn.functional.scaled_dot_product_attention(*qkv, is_causal=True)

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _backend_context(torch, member, flag):
                out = attend()
    except RuntimeError as err:
        why = "; ".join(str(w.message).splitlines()[0] for w in caught[:2]) or str(err)
        if not _expected(bench, name):
            return _unavailable(bench, name, dtype, size, why[:200])
        return bench.result(  # this device should have it: a real failure
            "attention",
            dtype,
            None,
            "TFLOP/s",
            dict(size, backend=name),
            ok=False,
            reason="%s failed: %s" % (name, first_error_line(why)),
            seconds=time.perf_counter() - started,
        )
    with _backend_context(torch, member, flag):
        seconds, iters = bench.timed(attend)
    error = rel_error(torch, out[:1, :2].cpu(), reference)
    nonfinite = int((~torch.isfinite(out)).sum())
    problems = ["%d NaN/Inf values" % nonfinite] if nonfinite else []
    if error > TOLERANCE[dtype]:
        problems.append("relative error %.2e vs fp64 exceeds %.0e" % (error, TOLERANCE[dtype]))
    return bench.result(
        "attention",
        dtype,
        float("%.4g" % (flops / seconds / 1e12)),
        "TFLOP/s",
        dict(size, backend=name, iters=iters),
        ok=not problems,
        reason="; ".join(problems),
        seconds=time.perf_counter() - started,
        error=error,
        nonfinite=nonfinite,
    )


# torch's SDPA hardware rules (sdp_utils.cpp), restated from gpusetup's rules/sdpa.py, which cites
# where each was read; tests/test_sdpa_rules.py checks the two agree for every release and GPU.
# (first release, flash ranges, mem-efficient range); a range is ((major, minor), (major, minor) or None)
SDPA_ERAS = (
    ((2, 0), (((7, 5), (7, 5)), ((8, 0), (8, 9))), ((5, 0), None)),
    ((2, 1), (((7, 5), (9, 0)),), ((5, 0), (9, 0))),
    ((2, 2), (((8, 0), (9, 0)),), ((5, 0), (9, 0))),
    ((2, 7), (((8, 0), (12, 0)),), ((5, 0), (12, 0))),
    ((2, 8), (((8, 0), (12, 1)),), ((5, 0), (12, 1))),
)


def _release(version):
    """(major, minor) of a torch version string; an unreadable one is the newest rules."""
    match = re.match(r"(\d+)\.(\d+)", str(version))
    return (int(match.group(1)), int(match.group(2))) if match else (99, 0)


def expected_backend(name, torch_version, capability, flash_built):
    """Whether torch must run this backend for verify's inputs (fp16 below sm_80, bf16 from it; head
    dim 32..128): math always; mem-efficient and flash inside their ranges for this release, flash
    only when built; cuDNN's also depends on the build's cuDNN, so it is never required."""
    if name == "math":
        return True
    if name == "cudnn" or capability is None:
        return False
    era = [e for e in SDPA_ERAS if _release(torch_version) >= e[0]]
    _, flash, mem_efficient = era[-1] if era else SDPA_ERAS[0]
    cap = tuple(capability)
    if name == "mem-efficient":
        return mem_efficient[0] <= cap and (mem_efficient[1] is None or cap <= mem_efficient[1])
    return bool(flash_built) and any(low <= cap <= high for low, high in flash)


def _expected(bench, name):
    """Backends this device must have (expected_backend, with the device's own facts)."""
    capability = bench.torch.cuda.get_device_capability(bench.gpu) if bench.cuda else None
    built = getattr(bench.torch.backends.cuda, "is_flash_attention_available", lambda: True)()
    return expected_backend(name, bench.torch.__version__, capability, built)


def _unavailable(bench, name, dtype, size, why):
    bench.result(
        "attention",
        dtype,
        None,
        "TFLOP/s",
        dict(size, backend=name),
        ok=True,
        reason="%s kernel" % why if why == "CUDA-only" else "not available: %s" % why,
    )
