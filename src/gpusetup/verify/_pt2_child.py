"""verify's PyTorch 2 workloads (compile, attention, train-step): loaded by path by _bench_child.py in
the *target* interpreter, never imported by gpusetup. Stdlib + torch only, Python 3.8 compatible.

Each workload reports through the Bench it is given (bench.result / bench.timed), so its rows look
like every other verify row; what a number means is in its `size` map. compile lives here; attention
(_pt2_attention.py) and train-step (_pt2_train_child.py) are loaded beside it by path.
"""

import contextlib
import math
import os
import re
import sys
import threading
import time

COMPILE_LOCK = threading.Lock()
STARTUP = {}  # the one Dynamo/Inductor start-up: enabled, thread, deadline, seconds (_startup)
STARTUP_LOCK = threading.Lock()
WORKLOADS = ("attention", "train-step", "compile")  # compile last: a hung compile ends the child
# mode -> compile (rows, width); attention (batch, heads, seq, head dim); train-step (layers, d_model,
# heads, seq, batch, vocab, steps)
SIZES = {
    "cpu": ((64, 128), (2, 4, 128, 32), (2, 64, 4, 64, 4, 128, 6)),
    "quick": ((4096, 1024), (4, 16, 1024, 64), (4, 512, 8, 512, 8, 8192, 10)),
    "full": ((8192, 2048), (8, 16, 4096, 128), (4, 512, 8, 512, 16, 8192, 30)),
}
COMPILE_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 5e-2}  # compiled vs eager: both rounded
ERROR_LINE = re.compile(
    r"(error:|cannot find -l|No working C\+\+ compiler|Failed to find C compiler|cannot found|"
    r"No such file or directory|Permission denied|Read-only file system|failed to map segment|"
    r"cannot import name|No module named|undefined reference)",
    re.I,
)


def enable_startup():
    """On the CPU path, Dynamo/Inductor's one-per-process start-up is measured on its own (see _startup)."""
    STARTUP["enabled"] = True


def _startup(config):
    """Do, once and before the first workload that needs it, the work torch.compile (and AdamW, which
    imports Dynamo) would do first: import Dynamo and Inductor and run Inductor's CPU ISA probe (it
    builds and dlopens a test library in subprocesses). Never beside a timed row: it holds the GIL and
    would slow it. It runs in a thread so that one deadline bounds it (a hung probe compiler); a
    failure is left for the compile row to meet and report itself."""
    if not STARTUP.get("enabled"):
        return
    with STARTUP_LOCK:  # device threads wait for the one start-up
        if "thread" not in STARTUP:
            STARTUP["deadline"] = time.monotonic() + float(config.get("compile_timeout") or 300)
            STARTUP["thread"] = threading.Thread(target=_startup_work, name="gpusetup-pt2-startup")
            STARTUP["thread"].daemon = True
            STARTUP["thread"].start()
        STARTUP["thread"].join(max(0.0, STARTUP["deadline"] - time.monotonic()))
    if STARTUP["thread"].is_alive():
        raise RuntimeError(
            "Dynamo/Inductor start-up (imports and Inductor's CPU ISA probe) did not finish in %.0f s"
            % float(config.get("compile_timeout") or 300)
        )


def _startup_work():
    started = time.perf_counter()
    with contextlib.suppress(Exception):
        import torch._dynamo
        import torch._inductor.compile_fx  # noqa: F401
        from torch._inductor.cpu_vec_isa import pick_vec_isa

        pick_vec_isa()
    STARTUP["seconds"] = time.perf_counter() - started


def run(bench, workload, config):
    """One workload on bench's device; every failure becomes a failed row, never an exception."""
    started = time.perf_counter()
    compiles = workload == "compile" or (workload == "train-step" and config.get("compile_train"))
    try:
        if workload != "attention":  # train-step's AdamW imports Dynamo too
            _startup(config)
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


def _beside(filename, name):
    """A workload module beside this file, loaded by path once (the target may lack gpusetup)."""
    module = sys.modules.get(name)
    if module is None:
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module


def _attention(bench):
    _beside("_pt2_attention.py", "_gpusetup_pt2_attention").run(bench, sys.modules[__name__])


def _train_step(bench, config):
    module = _beside("_pt2_train_child.py", "_gpusetup_pt2_train")
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
    note = _cold_note(size, cold)
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
        reason="; ".join(problems) or note,
        seconds=time.perf_counter() - started,
    )
    return


def _cold_note(size, cold):
    """The first compile's seconds, and the start-up it would have paid, measured before it."""
    size["compile_seconds"] = round(cold, 3)
    if "seconds" not in STARTUP:
        return "cold compile %.1f s" % cold
    size["startup_seconds"] = round(STARTUP["seconds"], 3)
    return "cold compile %.1f s (+%.1f s start-up)" % (cold, STARTUP["seconds"])


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
