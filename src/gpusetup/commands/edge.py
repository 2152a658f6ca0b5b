"""The CLI edge: the one place exceptions become exit codes, one-line messages and the --json envelope."""

from __future__ import annotations

import functools
import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from types import FrameType
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    overload,
)

import typer

from gpusetup.errors import ExitCode, GpusetupError, OutputError
from gpusetup.render.console import PipeClosed, print_error, print_json
from gpusetup.render.envelope import ErrorInfo, envelope

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    debug = False
    result: Optional[Dict[str, Any]] = None  # the --json result of the running command


STATE = _State()


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `timeout`), raised like Ctrl-C so that child processes are ended."""


class HungUp(Terminated):
    """SIGHUP (the terminal or ssh session went away): the same unwinding, exit 129."""


def _raise_terminated(signum: int, frame: Optional[FrameType]) -> None:
    raise HungUp() if signum == getattr(signal, "SIGHUP", None) else Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds it like Ctrl-C instead of killing it on the spot."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    # A signal the user ignores (nohup ignores SIGHUP) stays ignored.
    wanted = [sig for sig in wanted if signal.getsignal(sig) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def emit_json(document: Mapping[str, Any]) -> None:
    """A command's --json result: the edge prints it once, with the exit code and any later error."""
    STATE.result = dict(document)


def _outcome(fn: Callable[..., Any], args: Any, kwargs: Any) -> Tuple[int, Optional[ErrorInfo]]:
    """Run the command: its exit code, and the error that ended it (already printed on stderr)."""
    try:
        with sigterm_as_interrupt():
            fn(*args, **kwargs)
        return int(ExitCode.OK), None
    except typer.Exit as done:
        return int(done.exit_code), None
    except PipeClosed:
        raise
    except GpusetupError as err:
        failed: Tuple[int, ErrorInfo] = (int(err.exit_code), ErrorInfo(err.message, err.hint))
    except HungUp:
        failed = (int(ExitCode.SIGHUP), ErrorInfo("hung up"))
    except Terminated:
        failed = (int(ExitCode.SIGTERM), ErrorInfo("terminated"))
    except KeyboardInterrupt:
        failed = (int(ExitCode.SIGINT), ErrorInfo("interrupted"))
    except Exception as err:  # noqa: BLE001 - the edge turns every bug into exit 4
        if STATE.debug:
            traceback.print_exc()
        hint = "" if STATE.debug else "re-run with --debug for the traceback, and report it"
        failed = (
            int(ExitCode.INTERNAL),
            ErrorInfo(f"internal error: {type(err).__name__}: {err}", hint),
        )
    print_error(failed[1].message, failed[1].hint)
    return failed


def _finish(command: str, as_json: bool, code: int, error: Optional[ErrorInfo]) -> int:
    """Under --json, stdout gets one document however the command ended (a result, an error or both)."""
    if as_json and (STATE.result is not None or error is not None):
        try:
            print_json(envelope(command, STATE.result, code, error))
        except OutputError as err:
            print_error(err.message, err.hint)
            return int(err.exit_code)
    return code


@overload
def cli_edge(fn: F) -> F: ...


@overload
def cli_edge(*, command: str) -> Callable[[F], F]: ...


def cli_edge(fn: Optional[F] = None, *, command: Optional[str] = None) -> Any:
    """Wrap a command: GpusetupError -> its exit code; anything else -> exit 4 (traceback with --debug);
    under --json its one envelope on stdout. `command` names the schema (default: the function)."""

    def decorate(fn: F) -> F:
        name = command or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            STATE.result = None
            try:
                code, error = _outcome(fn, args, kwargs)
                code = _finish(name, kwargs.get("json_out") is True, code, error)
            except PipeClosed:
                code = int(ExitCode.PIPE_CLOSED)
            finally:
                STATE.result = None
            raise typer.Exit(code)

        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def _json_asked(args: Sequence[str]) -> bool:
    """--json among the options (not after a `--`, where it would be an argument)."""
    head = list(args)[: list(args).index("--")] if "--" in args else list(args)
    return "--json" in head


def _is_click_error(err: BaseException) -> bool:
    """A usage error of the parser typer runs on (click, or the copy typer vendors from 0.28 on)."""
    return any(cls.__name__ == "ClickException" for cls in type(err).__mro__)


def _command_of(ctx: Any) -> Optional[str]:
    """The gpusetup command a click context belongs to (`profiles` for `profiles validate`)."""
    words = str(getattr(ctx, "command_path", "")).split()
    return words[1] if len(words) > 1 else None


def run_app(app: typer.Typer, prog_name: str, args: Optional[Sequence[str]] = None) -> None:
    """Run the CLI; a usage error click finds (an unknown option, a value of the wrong type) is
    printed as click prints it, and under --json also as the error envelope on stdout."""
    argv = list(sys.argv[1:] if args is None else args)
    try:
        code = app(prog_name=prog_name, args=argv, standalone_mode=False)
    except typer.Abort:
        print_error("aborted")
        sys.exit(int(ExitCode.SIGINT))
    except Exception as err:
        if not _is_click_error(err):
            raise
        err.show()  # type: ignore[attr-defined]
        command = _command_of(getattr(err, "ctx", None))
        if _json_asked(argv) and command is not None:
            message = err.format_message()  # type: ignore[attr-defined]
            error = ErrorInfo(message, f"see gpusetup {command} --help")
            sys.exit(_finish_click(command, err.exit_code, error))  # type: ignore[attr-defined]
        sys.exit(err.exit_code)  # type: ignore[attr-defined]
    sys.exit(code if isinstance(code, int) else int(ExitCode.OK))


def _finish_click(command: str, code: int, error: ErrorInfo) -> int:
    STATE.result = None
    try:
        return _finish(command, True, code, error)
    except PipeClosed:
        return int(ExitCode.PIPE_CLOSED)
