"""Which interpreter doctor, install and verify act on: one rule, with the reason kept for the report."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from gpusetup.errors import UsageError
from gpusetup.plumbing import process
from gpusetup.plumbing.codec import TextEnum

# The files pipx and uv write into a tool's own environment (not path fragments: PIPX_HOME and
# UV_TOOL_DIR move the directories, the markers stay).
TOOL_MARKERS = {"pipx_metadata.json": "pipx", "uv-receipt.toml": "uv tool"}
PYTHON_HELP = (
    "Interpreter to act on: a path (relative to here) or a name on PATH (python3.11) "
    "[default: the active venv ($VIRTUAL_ENV), else the active conda env ($CONDA_PREFIX), "
    "else, when gpusetup runs from pipx or uv tool, the python3 on PATH, else gpusetup's own]."
)
_CHECK = "import sys; print('gpusetup-python-ok %d.%d' % sys.version_info[:2])"


class TargetReason(TextEnum):
    """Why this interpreter was chosen, in rule order."""

    OPTION = "option"  # --python PATH or NAME
    VIRTUAL_ENV = "virtual-env"  # the activated venv ($VIRTUAL_ENV)
    CONDA = "conda"  # the activated conda env ($CONDA_PREFIX)
    TOOL_ENV = "tool-env"  # gpusetup runs from pipx/uv tool: the python3 on PATH
    SELF = "self"  # the interpreter running gpusetup


@dataclass(frozen=True)
class Target:
    """The chosen interpreter and why; `detail` names the option value, variable or tool."""

    path: str
    reason: TargetReason
    detail: str = ""

    def describe(self) -> str:
        """The reason in words, for the report header."""
        return {
            TargetReason.OPTION: f"--python {self.detail}",
            TargetReason.VIRTUAL_ENV: f"active venv, VIRTUAL_ENV={self.detail}",
            TargetReason.CONDA: f"active conda env, CONDA_PREFIX={self.detail}",
            TargetReason.TOOL_ENV: f"python3 on PATH: gpusetup runs from a {self.detail} environment",
            TargetReason.SELF: "the interpreter running gpusetup",
        }[self.reason]


def reason_text(reason: str, detail: str) -> str:
    """The words for a reason stored in facts ('' for facts recorded before reasons were kept)."""
    try:
        return Target("", TargetReason(reason), detail).describe()
    except ValueError:
        return ""


def tool_environment(prefix: str) -> Optional[str]:
    """pipx or uv tool when prefix is an environment one of them made (by its own marker file)."""
    for marker, tool in TOOL_MARKERS.items():
        if (Path(prefix) / marker).is_file():
            return tool
    return None


def env_python(env_dir: str) -> str:
    """The interpreter of a venv or conda env directory."""
    if os.name == "nt":  # pragma: no cover - Linux CI
        return str(Path(env_dir) / "python.exe")
    return str(Path(env_dir) / "bin" / "python")


def choose_target(
    option: Optional[str],
    environ: Mapping[str, str],
    executable: str = sys.executable,
    prefix: str = sys.prefix,
) -> Target:
    """--python, else $VIRTUAL_ENV, else $CONDA_PREFIX, else python3 on PATH from a tool env, else self."""
    if option is not None:
        return Target(_locate(option), TargetReason.OPTION, option)
    for variable, reason in (
        ("VIRTUAL_ENV", TargetReason.VIRTUAL_ENV),
        ("CONDA_PREFIX", TargetReason.CONDA),
    ):
        value = environ.get(variable, "")
        if value:
            same = _same_dir(value, prefix)
            return Target(executable if same else env_python(value), reason, value)
    tool = tool_environment(prefix)
    if tool is not None:
        found = shutil.which("python3", path=environ.get("PATH", ""))
        if found is None or _same_dir(str(Path(found).parent.parent), prefix):
            raise UsageError(
                f"gpusetup runs from a {tool} environment and finds no other python3 on PATH",
                "activate the environment to check, or pass --python PATH",
            )
        return Target(os.path.abspath(found), TargetReason.TOOL_ENV, tool)
    return Target(executable, TargetReason.SELF)


SANITY_TIMEOUT = 30.0  # the most the interpreter check waits, however long --timeout is


def checked_target(
    option: Optional[str],
    environ: Optional[Mapping[str, str]] = None,
    timeout: float = SANITY_TIMEOUT,
) -> Target:
    """choose_target() for this process, and the result checked to be a Python 3 interpreter.

    The check is a child like the others, so --timeout bounds it too."""
    target = choose_target(option, os.environ if environ is None else environ)
    if target.reason is not TargetReason.SELF:
        check_interpreter(target, timeout)
    return target


def _locate(option: str) -> str:
    """A path (relative to the current directory) or a bare name looked up on PATH."""
    if os.sep in option or (os.altsep and os.altsep in option) or option.startswith("."):
        return os.path.abspath(option)
    found = shutil.which(option)
    return os.path.abspath(found) if found else option  # a bare name: check_interpreter says so


def _same_dir(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def check_interpreter(target: Target, timeout: float = SANITY_TIMEOUT) -> None:
    """One line and exit 2 unless target.path is a Python 3 interpreter."""
    where = _where(target)
    path = target.path
    if not os.path.isabs(path):
        raise UsageError(f"{where}: not found on PATH", "give a path, or a python on PATH")
    if not os.path.lexists(path):
        raise UsageError(f"{where}: no such file ({path})", "give the path of a python executable")
    if os.path.isdir(path):
        raise UsageError(
            f"{where}: is a directory", f"did you mean {os.path.join(path, 'bin', 'python')}?"
        )
    if not os.access(path, os.X_OK):
        raise UsageError(f"{where}: not executable", "give the path of a python executable")
    limit = min(timeout, SANITY_TIMEOUT)
    result = process.run([path, "-c", _CHECK], timeout=limit, scratch=True)
    if result.timed_out:
        raise UsageError(
            f"{where}: did not answer within {limit:g} s",
            "give the path of a python executable (or a longer --timeout)",
        )
    words = next(
        (line.split() for line in result.stdout.splitlines() if "gpusetup-python-ok" in line), []
    )
    if len(words) != 2:
        raise UsageError(
            f"{where}: not a Python interpreter", "give the path of a python executable"
        )
    if not words[1].startswith("3."):
        raise UsageError(
            f"{where}: Python {words[1]}, and gpusetup needs a Python 3 interpreter",
            "give the path of a python3 executable",
        )


def _where(target: Target) -> str:
    if target.reason is TargetReason.OPTION:
        return f"--python {target.detail}"
    if target.reason is TargetReason.VIRTUAL_ENV:
        return f"VIRTUAL_ENV={target.detail}"
    if target.reason is TargetReason.CONDA:
        return f"CONDA_PREFIX={target.detail}"
    return f"python3 on PATH ({target.path})"
