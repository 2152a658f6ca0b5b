"""verify's attention workload: scaled_dot_product_attention forced onto each backend (flash,
memory-efficient, cuDNN, math) and checked against fp64. Loaded by path by _pt2_child.py in the
*target* interpreter; stdlib + torch only, Python 3.8 compatible.

It judges no backend that did not run: it prints what happened (refused by torch, with its message;
not in this torch; CUDA-only on the CPU) and the facts torch's rules need, as one SDPA event each,
and gpusetup decides (verify/attention.py, with the rules/sdpa.py table doctor uses). A backend that
ran is a RESULT row, checked against fp64 here like every other measurement.
"""

import time
import warnings

TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 3e-2}  # relative Frobenius error
MESSAGE_LIMIT = 2000  # characters of torch's refusal the SDPA event carries
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
            _did_not_run(bench, pt2, (name, dtype, size), "cuda-only")
        elif _backend_context(torch, member, flag) is None:
            _did_not_run(bench, pt2, (name, dtype, size), "absent")
        else:
            _backend(
                bench, pt2, (name, member, flag), (q, k, v), reference, dict(size, flops=flops)
            )


def _planted(bench, name, qkv):
    """Tests plant a refusal ("sdpa-refuse:math"): that backend gets a key in fp64, and torch's own
    input checks refuse mixed dtypes (a real refusal, on any device, before any kernel is chosen)."""
    if bench.fault != "sdpa-refuse:" + name:
        return qkv
    q, k, v = qkv
    return q, k.double(), v


def _backend(bench, pt2, backend, qkv, reference, size):
    """One SDPA backend forced on: refused (an SDPA event), or timed and checked against fp64."""
    torch, (name, member, flag), dtype = bench.torch, backend, pt2.work_dtype(bench)
    flops, started = size.pop("flops"), time.perf_counter()
    qkv = _planted(bench, name, qkv)

    def attend():
        return torch.nn.functional.scaled_dot_product_attention(*qkv, is_causal=True)

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _backend_context(torch, member, flag):
                out = attend()
    except RuntimeError as err:
        why = "; ".join(str(w.message).splitlines()[0] for w in caught[:2]) or str(err)
        seconds = time.perf_counter() - started
        return _did_not_run(bench, pt2, (name, dtype, size), "refused", why, seconds)
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


def _flash_built(torch):
    """torch.backends.cuda.is_flash_attention_available() where this torch has it, else None."""
    try:
        return bool(torch.backends.cuda.is_flash_attention_available())
    except Exception:  # older than 2.1, or a build without the CUDA backends module
        return None


def _did_not_run(bench, pt2, backend, outcome, message="", seconds=0.0):
    """A backend that did not run, (name, dtype, size): what happened and the facts torch's rules
    need, no verdict (gpusetup's verify/attention.py judges it with rules/sdpa.py, as doctor does)."""
    torch, (name, dtype, size) = bench.torch, backend
    capability = torch.cuda.get_device_capability(bench.gpu) if bench.cuda else None
    bench.emit(
        "SDPA",
        {
            "gpu": bench.gpu,
            "name": bench.name,
            "backend": name,
            "dtype": dtype,
            "outcome": outcome,
            "head_dim": size["head_dim"],
            "torch": str(torch.__version__),
            "capability": "%d.%d" % tuple(capability) if capability else "",
            "flash_built": _flash_built(torch),
            "message": message[:MESSAGE_LIMIT],
            "error_line": pt2.first_error_line(message),
            "size": size,
            "seconds": round(seconds, 3),
        },
    )
