"""What verify measures and profiles/gpus.yaml rates: the dtypes and the benchmarks of its rows.

The knowledge layer needs them to check gpus.yaml's keys, verify to parse options and child lines:
one definition here, below both. The child scripts print the same strings.
"""

from __future__ import annotations

from gpusetup.plumbing.codec import TextEnum


class Dtype(TextEnum):
    """A number format verify measures (--dtype, and the dtype of a matmul or conv row)."""

    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"


class Benchmark(TextEnum):
    """What one row measured, as the child names it (run: the child failed before it finished)."""

    MATMUL = "matmul"
    CONV_FWD = "conv-fwd"
    CONV_BWD = "conv-bwd"
    MEMORY = "memory"  # device memory bandwidth
    H2D = "h2d"  # host to device copies
    D2H = "d2h"
    P2P = "p2p"  # GPU to GPU copies
    ATTENTION = "attention"
    TRAIN_STEP = "train-step"
    COMPILE = "compile"  # torch.compile's speedup over eager, not a rate
    ALL_REDUCE = "all_reduce"  # --collectives
    ALL_GATHER = "all_gather"
    REDUCE_SCATTER = "reduce_scatter"
    RUN = "run"


# The benchmarks gpus.yaml's `achieved` table may rate (fractions of the datasheet peak).
RATED = (
    Benchmark.MATMUL,
    Benchmark.CONV_FWD,
    Benchmark.CONV_BWD,
    Benchmark.MEMORY,
    Benchmark.H2D,
    Benchmark.D2H,
)
