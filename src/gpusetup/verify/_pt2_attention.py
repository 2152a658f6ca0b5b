"""verify's attention workload: scaled_dot_product_attention forced onto each backend (flash,
memory-efficient, cuDNN, math) and checked against fp64. Loaded by path by _pt2_child.py in the
*target* interpreter; stdlib + torch only, Python 3.8 compatible.

Which backends the device must have follows torch's own sdp_utils.cpp rules per release
(SDPA_ERAS, a copy of gpusetup's rules/sdpa.py that tests/test_sdpa_rules.py holds to it).
"""

import re
import time
import warnings

TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 3e-2}  # relative Frobenius error
BACKENDS = (  # (row name, SDPBackend member, old sdp_kernel flag)
    ("flash", "FLASH_ATTENTION", "enable_flash"),
    ("mem-efficient", "EFFICIENT_ATTENTION", "enable_mem_efficient"),
    ("cudnn", "CUDNN_ATTENTION", None),
    ("math", "MATH", "enable_math"),
)


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


def run(bench, pt2):
    """Each backend forced on in turn; pt2 is _pt2_child (dtype, error and message helpers)."""
    torch = bench.torch
    dtype = pt2.work_dtype(bench)
    batch, heads, seq, dim = pt2.SIZES[bench.mode][1]
    gen = torch.Generator(device="cpu").manual_seed(2)
    q, k, v = (
        torch.randn(batch, heads, seq, dim, generator=gen).to(
            bench.device, pt2._torch_dtype(torch, dtype)
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
            _backend(
                bench, pt2, (name, member, flag), (q, k, v), reference, dict(size, flops=flops)
            )


def _backend(bench, pt2, backend, qkv, reference, size):
    """One SDPA backend forced on: unavailable, failed, or timed and checked against fp64."""
    torch, (name, member, flag), dtype = bench.torch, backend, pt2.work_dtype(bench)
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
            reason="%s failed: %s" % (name, pt2.first_error_line(why)),
            seconds=time.perf_counter() - started,
        )
    with _backend_context(torch, member, flag):
        seconds, iters = bench.timed(attend)
    error = pt2.rel_error(torch, out[:1, :2].cpu(), reference)
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
