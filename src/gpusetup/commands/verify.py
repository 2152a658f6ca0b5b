"""gpusetup verify: real matmul, convolution and copy work on each GPU, checked, timed and judged."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

import typer

from gpusetup.commands import options_verify as opt
from gpusetup.commands.edge import cli_edge, emit_json
from gpusetup.commands.option_checks import optional_timeout, writable_file
from gpusetup.commands.options import Profiles, Python
from gpusetup.errors import UsageError
from gpusetup.facts.target import checked_target
from gpusetup.profiles.load import load_profiles
from gpusetup.render.console import make_console

if TYPE_CHECKING:
    from gpusetup.verify.score import Floors, VerifyResult


@cli_edge
def verify(
    device: opt.Device = "all",
    dtype: opt.Dtype = None,
    full: opt.Full = False,
    quick: opt.Quick = False,
    json_out: opt.Json = False,
    junit: opt.Junit = None,
    min_fraction: opt.MinFraction = None,
    min_tflops: opt.MinTflops = None,
    python: Python = None,
    expect_gpus: opt.ExpectGpus = None,
    timeout: opt.Timeout = None,
    profiles_dir: Profiles = None,
    compile_train: opt.Compile = False,
    collectives: opt.Collectives = False,
) -> None:
    """Run GPU matmul, convolution and bandwidth checks through the installed torch; pass/fail for CI."""
    timeout = optional_timeout(timeout)
    if collectives:
        result = _collectives(device, junit, python, timeout)
        if result is None:  # rank 0 reports every rank
            return
    else:
        from gpusetup.doctor.checks.gpu_count import parse_expect_gpus, require_gpus
        from gpusetup.doctor.why_unusable import doctor_errors_hint
        from gpusetup.verify.config import parse_dtypes
        from gpusetup.verify.run import Hooks, VerifyRequest, run_verify

        if quick and full:
            raise UsageError("--quick and --full exclude each other")
        mode = "full" if full else "quick"
        dtypes = parse_dtypes(dtype, mode)
        floors = _floors(min_fraction, min_tflops or [])
        writable_file("--junit", junit)
        expected = parse_expect_gpus(expect_gpus)
        profiles = load_profiles(profiles_dir or ())
        limit = timeout or (1200.0 if full else 240.0)
        target = checked_target(python, timeout=limit)
        request = VerifyRequest(device, dtypes, mode, quick, compile_train, floors, limit, profiles)
        hooks = Hooks(
            _progress, lambda visible: require_gpus(expected, visible), doctor_errors_hint
        )
        result = run_verify(request, target, hooks)
    _output(result, json_out, junit)
    raise typer.Exit(int(result.exit_code))


def _floors(min_fraction: Optional[float], min_tflops: List[str]) -> Floors:
    """How fast is fast enough, from --min-fraction and --min-tflops (else the profile's default)."""
    from gpusetup.verify.config import parse_fraction, parse_min_tflops
    from gpusetup.verify.score import Floors

    return Floors(
        min_fraction=parse_fraction(min_fraction), min_tflops=parse_min_tflops(min_tflops)
    )


def _collectives(
    device: str, junit: Optional[str], python: Optional[str], timeout: Optional[float]
) -> Optional[VerifyResult]:
    """The collectives across every rank torchrun or srun started; None on the ranks but 0."""
    from gpusetup.verify.collectives import check_collectives, run_collectives

    check_collectives(device)
    writable_file("--junit", junit)
    limit = timeout or 300.0
    return run_collectives(device, checked_target(python, timeout=limit), limit)


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
