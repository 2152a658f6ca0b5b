"""The errors a user can cause, and the exit codes every command shares."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Documented exit codes, the same for every gpusetup command."""

    OK = 0
    PROBLEMS = 1  # problems found: doctor errors, a failed verify, a failed install
    USAGE = 2  # bad usage or input
    MISSING = 3  # the machine lacks what the command needs (no GPU, no torch)
    INTERNAL = 4  # a bug in gpusetup; the traceback only with --debug
    # 128 + the signal number, as a shell reports a process the signal ended
    SIGHUP = 129  # the terminal or ssh session went away
    SIGINT = 130  # Ctrl-C
    PIPE_CLOSED = 141  # SIGPIPE: the reader of stdout went away (| head); quietly, as git does
    SIGTERM = 143  # a cancelled CI job, `timeout`


class GpusetupError(Exception):
    """An error with a one-line message and a hint; printed without a traceback."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(GpusetupError):
    """Bad arguments or bad input files (exit 2)."""


class ProfileError(UsageError):
    """A profile file that does not parse or does not match the schema (exit 2)."""


class ResolutionError(UsageError):
    """The install request cannot be met (exit 2)."""


class MissingRequirement(GpusetupError):
    """The machine lacks what the command needs: no GPU, no torch, no CUDA build fits (exit 3)."""

    exit_code = ExitCode.MISSING


class CommandFailed(GpusetupError):
    """The command ran and found problems it cannot hide (exit 1)."""

    exit_code = ExitCode.PROBLEMS


class OutputError(GpusetupError):
    """stdout or stderr cannot be written to (a full disk, a closed stream): exit 1, one line."""

    exit_code = ExitCode.PROBLEMS
