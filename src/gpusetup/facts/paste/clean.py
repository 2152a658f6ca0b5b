"""What pasting does to a report, undone: line endings, colour codes, quote marks, fences, bold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HTML = re.compile(r"^\s*</?(details|summary)[^>]*>(.*?)(</summary>)?\s*$", re.IGNORECASE)
_QUOTE = re.compile(r"^\s*(?:>(?!>>(?:\s|$))\s?)+")  # a ">>>" prompt is no quote mark
# Each reader matches a line's first MAX_LINE characters only: a cap keeps every search short.
MAX_LINE = 4096
_BOLD = re.compile(r"\*\*")  # not "__": it is in symbols and paths (__init__.py, __nvJitLink...)


@dataclass(frozen=True)
class Line:
    """One line of the paste as cleaned, and its number in the original (1-based)."""

    number: int
    text: str


def clean_lines(text: str) -> List[Line]:
    """The paste's lines without paste artefacts; fence and <details> lines are dropped."""
    text = _ANSI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\uff1a", ":").replace("\u00a0", " ").replace("\ufeff", "")
    lines: List[Line] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        if _FENCE.match(raw):
            continue
        html = _HTML.match(raw)
        if html:
            continue
        line = _QUOTE.sub("", raw) if raw.lstrip().startswith(">") else raw
        line = _BOLD.sub("", line).replace("\t", "    ").rstrip()
        lines.append(Line(number, line))
    return lines


def describe_lines(numbers: List[int]) -> str:
    """Line numbers as ranges: 3-7, 12."""
    spans: List[str] = []
    numbers = sorted(set(numbers))
    start = prev = numbers[0] if numbers else 0
    for n in [*numbers[1:], -1]:
        if n == prev + 1:
            prev = n
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(spans)
