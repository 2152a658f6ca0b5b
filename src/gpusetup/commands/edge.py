"""The CLI edge: the one place exceptions become exit codes and one-line messages."""

from __future__ import annotations

import functools
import signal
import threading
import traceback
from contextlib import contextmanager
from types import FrameType
from typing import Any, Callable, Iterator, Optional, TypeVar

import typer

from gpusetup.errors import ExitCode, GpusetupError
from gpusetup.render.console import PipeClosed, print_error

F = TypeVar("F", bound=Callable[..., Any])

# What a shell reports for a process killed by SIGPIPE (128 + 13), as git and coreutils end when the
# reader of their output goes away: quietly, no message.
PIPE_CLOSED_EXIT = 141


class _State:
    debug = False


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


def cli_edge(fn: F) -> F:
    """Wrap a command: GpusetupError -> its exit code; anything else -> exit 4 (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_as_interrupt():
                return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except PipeClosed:
            raise typer.Exit(PIPE_CLOSED_EXIT) from None
        except GpusetupError as err:
            print_error(err.message, err.hint)
            raise typer.Exit(int(err.exit_code)) from None
        except HungUp:
            print_error("hung up")
            raise typer.Exit(129) from None
        except Terminated:
            print_error("terminated")
            raise typer.Exit(143) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(130) from None
        except Exception as err:  # noqa: BLE001 - the edge turns every bug into exit 4
            if STATE.debug:
                traceback.print_exc()
            print_error(
                f"internal error: {type(err).__name__}: {err}",
                "" if STATE.debug else "re-run with --debug for the traceback, and report it",
            )
            raise typer.Exit(int(ExitCode.INTERNAL)) from None

    return wrapper  # type: ignore[return-value]
