"""verify's own options, as typed aliases (the shared ones are in commands/options.py)."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

Device = Annotated[
    str,
    typer.Option(
        "--device",
        metavar="DEVICES",
        help="all, cpu, or GPU indices as torch numbers them: 0 or 0,2.",
    ),
]
Dtype = Annotated[
    Optional[str],
    typer.Option(
        "--dtype",
        metavar="LIST",
        help="Comma list of fp32,tf32,fp16,bf16,fp8 [quick: fp32,tf32,bf16,fp8; full: all].",
    ),
]
Full = Annotated[bool, typer.Option("--full", help="Larger sizes, more samples, every dtype.")]
Quick = Annotated[
    bool,
    typer.Option(
        "--quick",
        help="The default: short sizes and samples (goal: the whole run within 20 s on an H100).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the JSON report (gpusetup.verify/1).")]
Junit = Annotated[
    Optional[str],
    typer.Option("--junit", metavar="PATH", help="Also write JUnit XML to this file."),
]
MinFraction = Annotated[
    Optional[float],
    typer.Option(
        "--min-fraction",
        metavar="FRACTION",
        help="Floor as a fraction of the datasheet peak (e.g. 0.6).",
    ),
]
MinTflops = Annotated[
    Optional[List[str]],
    typer.Option(
        "--min-tflops",
        metavar="DTYPE=TFLOPS",
        help="Absolute floor per dtype, e.g. bf16=500 (repeatable).",
    ),
]
ExpectGpus = Annotated[
    Optional[str],
    typer.Option(
        "--expect-gpus",
        metavar="N",
        help="Fail (exit 1) when fewer GPUs than this are visible: for CI.",
    ),
]
Timeout = Annotated[
    Optional[float],
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Seconds the whole run may take [quick 240, full 1200].",
    ),
]
Compile = Annotated[
    bool,
    typer.Option("--compile", help="Also run the train-step workload through torch.compile."),
]
Collectives = Annotated[
    bool,
    typer.Option(
        "--collectives",
        help="All-reduce/all-gather/reduce-scatter across every rank; run under torchrun or srun.",
    ),
]
