"""JSON printed by a child process (probe, benchmarks): decoded with limits, as untrusted data.

A child runs the user's torch, and whatever that torch (or a stand-in) prints is data, not code: the
numbers must be finite (JSON output never holds NaN/Infinity), strings valid Unicode (no lone
surrogates, which no terminal or file encoding can write), nesting shallow. Anything else is a
ChildDataError, which callers turn into a failed probe or a failed result row.
"""

from __future__ import annotations

import json
import math
from typing import Any, List, Tuple

MAX_DEPTH = 32  # the probe's deepest structure is 3 levels
MAX_TEXT = 4 << 20  # characters in one JSON document


class ChildDataError(ValueError):
    """What a child printed is not the JSON it should be; the message says why, in a line."""


def _no_constant(name: str) -> Any:
    raise ChildDataError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ChildDataError(f"number out of range: {text[:20]}")
    return value


def loads(text: str) -> Any:
    """Decode one JSON document from a child; a ChildDataError (never another exception) if bad."""
    if len(text) > MAX_TEXT:
        raise ChildDataError(f"{len(text)} characters of JSON (at most {MAX_TEXT})")
    if _too_deep(text):
        raise ChildDataError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except ChildDataError:
        raise
    except (ValueError, RecursionError) as err:  # ValueError: bad JSON, an int of 5000 digits
        raise ChildDataError(f"not JSON ({str(err)[:120]})") from None
    _check_strings(data)
    return data


def _too_deep(text: str) -> bool:
    """Bracket depth, counted outside strings, before json.loads recurses into it."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _check_strings(data: Any) -> None:
    """Every string (keys too) must encode as UTF-8: a lone surrogate from a \\ud800 escape does not."""
    stack: List[Tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _utf8(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                _utf8(key)
                stack.append((value, depth + 1))
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)


def _utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ChildDataError("a string with a lone surrogate (not valid Unicode)") from None
