"""gpusetup verify: real matmul, convolution and copy work on each GPU, checked, timed and judged."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

import typer

from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.validate import optional_timeout, writable_file
from gpusetup.errors import UsageError
from gpusetup.facts.target import PYTHON_HELP, checked_target
from gpusetup.render.console import make_console

if TYPE_CHECKING:
    from gpusetup.verify.score import VerifyResult


@cli_edge
def verify(
    device: str = typer.Option(
        "all",
        "--device",
        metavar="DEVICES",
        help="all, cpu, or GPU indices as torch numbers them: 0 or 0,2.",
    ),
    dtype: Optional[str] = typer.Option(
        None,
        "--dtype",
        metavar="LIST",
        help="Comma list of fp32,tf32,fp16,bf16,fp8 [quick: fp32,tf32,bf16,fp8; full: all].",
    ),
    full: bool = typer.Option(False, "--full", help="Larger sizes, more samples, every dtype."),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="The default: short sizes and samples (goal: the whole run within 20 s on an H100).",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the JSON report (gpusetup.verify/1)."
    ),
    junit: Optional[str] = typer.Option(
        None, "--junit", metavar="PATH", help="Also write JUnit XML to this file."
    ),
    min_fraction: Optional[float] = typer.Option(
        None,
        "--min-fraction",
        metavar="FRACTION",
        help="Floor as a fraction of the datasheet peak (e.g. 0.6).",
    ),
    min_tflops: List[str] = typer.Option(
        [],
        "--min-tflops",
        metavar="DTYPE=TFLOPS",
        help="Absolute floor per dtype, e.g. bf16=500 (repeatable).",
    ),
    python: Optional[str] = typer.Option(None, "--python", metavar="PATH", help=PYTHON_HELP),
    expect_gpus: Optional[str] = typer.Option(
        None,
        "--expect-gpus",
        metavar="N",
        help="Fail (exit 1) when fewer GPUs than this are visible: for CI.",
    ),
    timeout: Optional[float] = typer.Option(
        None,
        "--timeout",
        metavar="SECONDS",
        help="Seconds the whole run may take [quick 240, full 1200].",
    ),
    profiles_dir: List[str] = typer.Option(
        [], "--profiles", metavar="DIR", help="Extra profile directory (repeatable)."
    ),
    compile_train: bool = typer.Option(
        False, "--compile", help="Also run the train-step workload through torch.compile."
    ),
    collectives: bool = typer.Option(
        False,
        "--collectives",
        help="All-reduce/all-gather/reduce-scatter across every rank; run under torchrun or srun.",
    ),
) -> None:
    """Run GPU matmul, convolution and bandwidth checks through the installed torch; pass/fail for CI."""
    timeout = optional_timeout(timeout)
    if collectives:
        from gpusetup.verify.collectives import check_collectives, run_collectives

        check_collectives(device)
        writable_file("--junit", junit)
        limit = timeout or 300.0
        result = run_collectives(device, checked_target(python, timeout=limit), limit)
        if result is not None:  # rank 0 reports every rank
            _output(result, json_out, junit)
            raise typer.Exit(int(result.exit_code))
        return
    from gpusetup.doctor.checks.gpu_count import parse_expect_gpus, require_gpus
    from gpusetup.doctor.why_unusable import doctor_errors_hint
    from gpusetup.profiles.load import load_profiles
    from gpusetup.verify.config import parse_dtypes, parse_fraction, parse_min_tflops
    from gpusetup.verify.run import Hooks, VerifyRequest, run_verify
    from gpusetup.verify.score import Floors

    if quick and full:
        raise UsageError("--quick and --full exclude each other")
    mode = "full" if full else "quick"
    dtypes = parse_dtypes(dtype, mode)
    floors = Floors(
        min_fraction=parse_fraction(min_fraction), min_tflops=parse_min_tflops(min_tflops)
    )
    writable_file("--junit", junit)
    expected = parse_expect_gpus(expect_gpus)
    profiles = load_profiles(profiles_dir)
    limit = timeout or (1200.0 if full else 240.0)
    target = checked_target(python, timeout=limit)
    request = VerifyRequest(device, dtypes, mode, quick, compile_train, floors, limit, profiles)
    hooks = Hooks(_progress, lambda visible: require_gpus(expected, visible), doctor_errors_hint)
    result = run_verify(request, target, hooks)
    _output(result, json_out, junit)
    raise typer.Exit(int(result.exit_code))


@contextmanager
def _progress(config: Dict[str, Any]) -> Iterator[Callable[[str, Dict[str, Any]], None]]:
    from gpusetup.render.verify import Progress

    with Progress(config, sys.stderr.isatty()) as bar:
        yield bar.event


def _output(result: VerifyResult, json_out: bool, junit: Optional[str]) -> None:
    from gpusetup.render.verify import junit_xml, render_verify

    # The results are shown first: a JUnit file that cannot be written must not lose them.
    if json_out:
        emit_json(result.to_dict())
    else:
        render_verify(result, make_console())
    if junit is not None:
        try:
            Path(junit).write_text(junit_xml(result), encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"--junit {junit}: could not write the JUnit file: {err.strerror or err}",
                "the results above are complete; give a writable file",
            ) from None
