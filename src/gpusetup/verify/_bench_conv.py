"""verify's convolution workload (a 3x3 cuDNN convolution, channels_last: forward and backward).

Loaded by path by _bench_child.py in the *target* interpreter, never imported by gpusetup. Stdlib +
torch only; each row goes out through the Bench it is given.
"""

import time


def run(bench, dtype, started):
    """The conv-fwd and conv-bwd rows of one dtype, or the one row saying why it is skipped."""
    if dtype == "tf32" and bench.mode == "quick":
        bench.result(
            "conv-fwd",
            dtype,
            None,
            "TFLOP/s",
            {},
            ok=True,
            reason="skipped: the tf32 convolution runs with --full",
        )
        return None
    if dtype in ("tf32", "fp8") and (not bench.cuda or dtype == "fp8"):
        return bench.result(
            "conv-fwd",
            dtype,
            None,
            "TFLOP/s",
            {},
            ok=True,
            reason="skipped: no %s convolution" % dtype,
        )
    bench.precision_flags(dtype)
    x, w, size = operands(bench, dtype)
    out, grad = forward(bench, dtype, x, w, size, started)
    backward(bench, dtype, (x, w, out, grad), size)
    return None


def operands(bench, dtype):
    """The input and the weight (channels_last, both requiring grad), and the rows' size map."""
    torch = bench.torch
    batch, channels, side = bench.sizes[1], bench.sizes[2], bench.sizes[3]
    kind = bench.torch_dtype(dtype)
    x = torch.randn(batch, channels, side, side, device=bench.device, dtype=kind).to(
        memory_format=torch.channels_last
    )
    w = (
        torch.randn(channels, channels, 3, 3, device=bench.device, dtype=kind).to(
            memory_format=torch.channels_last
        )
        / 24
    )
    x.requires_grad_(True)
    w.requires_grad_(True)
    size = {
        "batch": batch,
        "channels": channels,
        "height": side,
        "width": side,
        "kernel": 3,
        "layout": "channels_last",
    }
    return x, w, size


def flops(size):
    """Multiply-adds of one forward pass, counted twice (a multiply and an add)."""
    batch, channels, side = size["batch"], size["channels"], size["height"]
    return 2.0 * batch * channels * channels * 9 * side * side


def forward(bench, dtype, x, w, size, started):
    """The conv-fwd row; the output (with its graph) and a random output gradient, for backward."""
    torch = bench.torch
    conv = lambda: torch.nn.functional.conv2d(x, w, padding=1)  # noqa: E731
    out = conv()
    grad = torch.randn_like(out)
    with torch.no_grad():
        seconds, iters = bench.timed(conv)
        first, second = conv(), conv()
    bench.judged(
        "conv-fwd",
        dtype,
        (first, second),
        lambda rows: torch.nn.functional.conv2d(fp64(x[:rows]), fp64(w), padding=1),
        flops(size) / seconds / 1e12,
        dict(size, iters=iters),
        started,
        rows=1,
    )
    return out, grad


def backward(bench, dtype, tensors, size):
    """The conv-bwd row: both gradients, timed together, each checked against fp64."""
    torch, (x, w, out, grad) = bench.torch, tensors
    started = time.perf_counter()
    if bench.cuda:
        gradients = lambda: torch.autograd.grad(out, (x, w), grad, retain_graph=True)  # noqa: E731
    else:
        # The same gradients through a scalar loss: torch's first grad_outputs call imports
        # sympy (1-2 s on a loaded CI machine), and the CPU path exercises, it does not judge;
        # the loss adds one elementwise product, under 1 % of the CPU convolution's time.
        loss = (out * grad).sum()
        gradients = lambda: torch.autograd.grad(loss, (x, w), retain_graph=True)  # noqa: E731
    seconds, iters = bench.timed(gradients)
    dx, dw = gradients()
    bench.plant("conv-bwd", dtype, dx, dw)
    dx64, dw64 = grads_fp64(torch, x, w, grad, channels=16)
    checks = [
        bench.check(dx, lambda rows: dx64, rows=1),
        bench.check(dw, lambda rows: dw64, rows=dw64.shape[0]),
    ]
    # cuDNN's backward kernels may accumulate with atomics: no bit-identical repeat is asked.
    bench.finish(
        "conv-bwd",
        dtype,
        2 * flops(size) / seconds / 1e12,
        "TFLOP/s",
        dict(size, iters=iters),
        started,
        max(c[0] for c in checks),
        sum(c[2] for c in checks),
        None,
        max(c[1] for c in checks),
    )


def fp64(tensor):
    """An fp64 copy in the default (NCHW) layout: the reference takes the plainest path on any backend."""
    return tensor.double().contiguous()


def grads_fp64(torch, x, w, grad, channels):
    """fp64 gradients on slices, as for the matmul (fp64 is slow on most GPUs): the input gradient of
    the first image, and the weight gradient of the first output channels (a sum over the whole batch).
    """
    conv = torch.nn.functional.conv2d
    grad = grad.detach()
    with (
        torch.enable_grad()
    ):  # scalar losses: the same gradients, without grad_outputs (see backward)
        x1 = fp64(x[:1].detach()).requires_grad_(True)
        loss = (conv(x1, fp64(w.detach()), padding=1) * fp64(grad[:1])).sum()
        (dx,) = torch.autograd.grad(loss, (x1,))
        w_few = fp64(w[:channels].detach()).requires_grad_(True)
        out = conv(fp64(x.detach()), w_few, padding=1)
        (dw,) = torch.autograd.grad((out * fp64(grad[:, :channels])).sum(), (w_few,))
    return dx, dw
