"""Every byte gpusetup writes for people or machines goes through here.

Consoles are made per invocation (never at import) so tests capture them. Text from facts, profiles
and reports is data, never rich markup; control and escape characters in it are made visible
(``\\x1b``), characters the stream cannot encode fall back to ASCII, and a write that fails
(closed pipe, full disk, closed stdout) becomes one error, not a traceback.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from typing import IO, TYPE_CHECKING, Any, Dict, Iterable, Optional

from gpusetup.errors import OutputError

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.segment import Segment

# C0 but newline and tab, DEL, C1, lone surrogates, and the bidirectional overrides that reorder
# what a terminal shows (CVE-2021-42574).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)

_ASCII = {
    "✔": "+",
    "✖": "x",
    "·": "-",
    "→": "->",
    "≤": "<=",
    "≥": ">=",
    "•": "*",
    "…": "...",
    "—": "-",
    "\u2013": "-",  # en dash
    "\u00d7": "x",  # multiplication sign
    "°": " deg",
    "─": "-",
    "│": "|",
}


class PipeClosed(Exception):
    """The reader of stdout went away (`| head`): the command ends quietly, as Unix tools do."""


def visible(text: str) -> str:
    """Control, escape and bidi characters as `\\x1b`/`\\u202e`, so data cannot drive the terminal."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_encoding(text: str, encoding: str) -> str:
    """text as the stream can encode it: ✔ ✖ · → as + x - ->, anything else as a \\u escape."""
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        pass
    replaced = "".join(_ASCII.get(ch, ch) for ch in text)
    try:
        return replaced.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return replaced.encode("ascii", "backslashreplace").decode("ascii")


def markdown_cell(value: object) -> str:
    """A value inside a Markdown table cell: no pipe, HTML or line break can escape the cell."""
    text = visible(str(value)).replace("\\", "\\\\").replace("|", "\\|")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", " ").replace("\n", " ").replace("`", "\\`")


def finite(data: Any) -> Any:
    """A copy of data for JSON: NaN and ±Infinity (not JSON) become null."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def json_text(data: Any) -> str:
    """The one JSON writer: strict JSON (no NaN), ASCII only, indented."""
    return json.dumps(finite(data), indent=2, allow_nan=False)


class GuardedStream:
    """A text stream whose failures are OutputError or PipeClosed, with ASCII fall-backs."""

    def __init__(self, stream: Optional[IO[str]], name: str) -> None:
        self._stream, self.name = stream, name

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        try:
            return bool(self._stream is not None and self._stream.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError("closed")
        return self._stream.fileno()

    def write(self, text: str) -> int:
        return int(self._guard(lambda s: s.write(for_encoding(text, self.encoding))) or 0)

    def flush(self) -> None:
        self._guard(lambda s: s.flush())

    def _guard(self, action: Any) -> Any:
        if self._stream is None:
            raise OutputError(f"cannot write to {self.name}: it is closed")
        try:
            return action(self._stream)
        except BrokenPipeError:
            _discard(self._stream)
            raise PipeClosed() from None
        except (OSError, ValueError) as err:
            _discard(self._stream)
            reason = getattr(err, "strerror", None) or str(err)
            raise OutputError(f"cannot write to {self.name}: {reason}") from None


def _discard(stream: IO[str]) -> None:
    """Point a failed stream's descriptor at /dev/null, so the flush at exit neither fails nor
    prints 'Exception ignored' (and Python does not turn the exit code into 120)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _clean(renderable: Any) -> Any:
    """renderable with its data text made visible before rich measures it (so columns fit)."""
    from rich.table import Table
    from rich.text import Text

    if isinstance(renderable, str):
        return visible(renderable)
    if isinstance(renderable, Text) and _UNSAFE.search(renderable.plain):
        clean = Text(style=renderable.style, justify=renderable.justify, end=renderable.end)
        for part in renderable.divide(
            sorted({s.start for s in renderable.spans} | {s.end for s in renderable.spans})
        ):
            clean.append(visible(part.plain), style=part.spans[0].style if part.spans else None)
        return clean
    if isinstance(renderable, Table):
        for column in renderable.columns:
            column._cells = [_clean(cell) for cell in column._cells]
    return renderable


def _make_safe_console_class() -> Any:
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        """A Console whose text segments never carry control characters from the data."""

        def print(self, *objects: Any, **kwargs: Any) -> None:
            super().print(*(_clean(o) for o in objects), **kwargs)

        def render(
            self, renderable: RenderableType, options: Optional[ConsoleOptions] = None
        ) -> Iterable[Segment]:
            for segment in super().render(renderable, options):  # the net for anything else
                if segment.control or not _UNSAFE.search(segment.text):
                    yield segment
                else:
                    yield Segment(visible(segment.text), segment.style, segment.control)

    return SafeConsole


_TRAILING = re.compile(r"[ \t]+(?=(?:\x1b\[[0-9;]*m)*\n)")
DEFAULT_WIDTH = 80  # piped output with no COLUMNS: what a terminal and an issue comment show


class _LineEnds(GuardedStream):
    """A stream whose lines never end in spaces (rich pads table cells to the column width)."""

    def write(self, text: str) -> int:
        return super().write(_TRAILING.sub("", text))


def output_width(environ: Optional[Dict[str, str]] = None, tty: bool = False) -> Optional[int]:
    """COLUMNS when it is a positive number, else the terminal's own (None) or 80 off a terminal."""
    columns = (os.environ if environ is None else environ).get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), 20)
    return None if tty else DEFAULT_WIDTH


def colour_wanted(tty: bool, environ: Optional[Dict[str, str]] = None) -> bool:
    """Colour on a terminal only; NO_COLOR (set, not empty) turns it off, FORCE_COLOR on."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return tty


def make_console(stderr: bool = False) -> Console:
    """The console every renderer prints to: no markup, no emoji codes, escapes made visible;
    COLUMNS wide (80 when piped), colour only where it is wanted, no trailing spaces."""
    stream = _LineEnds(sys.stderr if stderr else sys.stdout, "stderr" if stderr else "stdout")
    tty = stream.isatty()
    colour = colour_wanted(tty)
    console: Console = _make_safe_console_class()(
        file=stream,
        no_color=not colour,
        color_system="auto" if colour else None,
        force_terminal=tty or colour,  # a terminal without colour (NO_COLOR) still redraws
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        width=output_width(tty=tty),
    )
    return console


def print_line(text: str) -> None:
    """Plain text (JSON too) to stdout, untouched by rich: no wrapping, no markup."""
    stream = GuardedStream(sys.stdout, "stdout")
    stream.write(visible(text) + "\n")
    stream.flush()


def print_json(data: Any) -> None:
    """A machine-readable report on stdout: strict JSON, never NaN or Infinity."""
    print_line(json_text(data))


def write_stderr(text: str) -> None:
    """A line for people on stderr; a stderr that cannot be written to is given up on quietly."""
    try:
        stream = GuardedStream(sys.stderr, "stderr")
        stream.write(visible(text) + "\n")
        stream.flush()
    except (OutputError, PipeClosed):
        pass


def print_error(message: str, hint: str = "") -> None:
    write_stderr(f"gpusetup: error: {message}" + (f"\n  hint: {hint}" if hint else ""))
