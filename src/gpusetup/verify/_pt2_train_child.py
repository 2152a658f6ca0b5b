"""verify's train-step workload: a small GPT-style decoder trained for a few steps on synthetic
tokens. Loaded by path by _pt2_child.py in the *target* interpreter; stdlib + torch only.

Checks: the loss falls, every gradient is finite, two runs from the same seed agree; reports tokens/s
and the model's TFLOP/s (verify divides by the datasheet peak: MFU).
"""

import math
import time

AGREE = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 2e-2}  # relative difference of the two final losses


def build(torch, layers, d_model, heads, seq, vocab):
    """Pre-norm decoder blocks (causal SDPA + a 4x GELU MLP) and a tied LM head."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
            self.qkv, self.proj = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
            self.mlp = nn.Sequential(
                nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
            )

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, heads, -1).permute(2, 0, 3, 1, 4)
            att = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(att.transpose(1, 2).reshape(b, s, d_model))
            return x + self.mlp(self.ln2(x))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d_model), nn.Embedding(seq, d_model)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln = nn.LayerNorm(d_model)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
            for block in self.blocks:
                x = block(x)
            return self.ln(x) @ self.tok.weight.t() * d_model**-0.5

    return Gpt()


def model_flops_per_token(params, layers, d_model, seq):
    """6 N per token for the weights plus 6 * 2 * layers * seq * d_model for attention (PaLM, app. B),
    halved for the causal mask."""
    return 6.0 * params + 6.0 * layers * seq * d_model


def train(bench, dims, dtype, compiled, seed, fault=""):
    """(losses, finite, seconds of the timed steps, parameter count) of one seeded run."""
    torch = bench.torch
    layers, d_model, heads, seq, batch, vocab, steps = dims
    torch.manual_seed(seed)
    model = build(torch, layers, d_model, heads, seq, vocab).to(bench.device)
    params = sum(p.numel() for p in model.parameters())
    fused = {"fused": True} if bench.cuda else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, **fused)
    step_model = torch.compile(model) if compiled else model
    gen = torch.Generator(device="cpu").manual_seed(seed)
    tokens = torch.randint(0, vocab, (batch, seq + 1), generator=gen).to(bench.device)
    amp = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)
    scaler = grad_scaler(torch) if dtype == "fp16" else None
    # NaN/Inf and the losses stay on the device until the end: no host sync inside the timed steps
    bad = torch.zeros((), dtype=torch.bool, device=bench.device)
    losses, start = [], None
    for step in range(steps):
        if step == 1:  # the first step pays for allocation (and compilation): not timed
            _sync(bench)
            start = time.perf_counter()
        with torch.autocast("cuda" if bench.cuda else "cpu", dtype=amp, enabled=amp is not None):
            logits = step_model(tokens[:, :-1])
            loss = torch.nn.functional.cross_entropy(
                logits.float().flatten(0, 1), tokens[:, 1:].flatten()
            )
        if "train-nan" in fault and step == 2:  # tests plant a NaN here: the check must see it
            loss = loss * float("nan")
        optimizer.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if scaler is not None:
            scaler.unscale_(optimizer)
        grads = [torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None]
        step_bad = ~torch.stack(grads).all()
        if (
            scaler is not None
        ):  # an overflow the scaler skips (and lowers its scale for) is fp16's rule
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            step_bad = step_bad & (scaler.get_scale() >= scale)
        else:
            optimizer.step()
        bad |= step_bad
        losses.append(loss.detach())
    _sync(bench)
    seconds = time.perf_counter() - start
    return [float(x) for x in losses], not bool(bad), seconds, params


def grad_scaler(torch):
    """torch.amp.GradScaler("cuda") from torch 2.3; torch.cuda.amp.GradScaler() before."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def _sync(bench):
    if bench.cuda:
        bench.torch.cuda.synchronize(bench.gpu)


def is_oom(torch, err):
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(err, oom)) or "out of memory" in str(err).lower()


def run(bench, dims, dtype, compiled, fault=""):
    """The two seeded runs, shrinking the model once on out-of-memory; one row either way."""
    torch, started, shrunk = bench.torch, time.perf_counter(), ""
    for attempt in range(2):
        try:
            if "train-oom" in fault and attempt == 0:  # tests plant an out-of-memory here
                raise RuntimeError("CUDA out of memory (planted by the test)")
            first = train(bench, dims, dtype, compiled, 0, fault)
            second = train(bench, dims, dtype, compiled, 0, fault)
            break
        except RuntimeError as err:
            if not is_oom(torch, err) or attempt == 1:
                raise
            if bench.cuda:
                torch.cuda.empty_cache()
            before = dims
            dims = (
                max(1, dims[0] // 2),
                dims[1],
                dims[2],
                dims[3],
                max(1, dims[4] // 2),
                *dims[5:],
            )
            shrunk = "out of memory at %d layers x batch %d: shrunk once to %d x %d; " % (
                before[0],
                before[4],
                dims[0],
                dims[4],
            )
    report(bench, dims, dtype, compiled, first, second, shrunk, started)


def report(bench, dims, dtype, compiled, first, second, shrunk, started):
    layers, d_model, _, seq, batch, _, steps = dims
    losses, finite, seconds, params = first
    problems = []
    if not finite or not second[1] or not all(math.isfinite(x) for x in losses):
        problems.append("a gradient or loss was NaN/Inf")
    elif not losses[-1] < 0.9 * losses[0]:
        problems.append("the loss did not fall: %.4g -> %.4g" % (losses[0], losses[-1]))
    agree = abs(second[0][-1] - losses[-1]) / max(abs(losses[-1]), 1e-12)
    if agree > AGREE[dtype]:
        problems.append(
            "two runs with one seed differ by %.2e (limit %.0e)" % (agree, AGREE[dtype])
        )
    tokens_per_s = batch * seq * (steps - 1) / seconds
    tflops = tokens_per_s * model_flops_per_token(params, layers, d_model, seq) / 1e12
    size = {
        "layers": layers,
        "d_model": d_model,
        "seq": seq,
        "batch": batch,
        "steps": steps,
        "params": params,
        "tokens_per_s": round(tokens_per_s, 1),
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
        "seed_agreement": agree,
        "compiled": compiled,
        "amp": "autocast " + dtype + (" + GradScaler" if dtype == "fp16" else "")
        if dtype != "fp32"
        else "none",
    }
    bench.result(
        "train-step",
        dtype,
        float("%.4g" % tflops),
        "TFLOP/s",
        size,
        ok=not problems,
        reason=shrunk + ("; ".join(problems) or "%.0f tok/s" % tokens_per_s),
        seconds=time.perf_counter() - started,
        nonfinite=0 if finite else 1,
    )
