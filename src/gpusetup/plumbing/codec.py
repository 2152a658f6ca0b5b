"""Dataclass <-> JSON/YAML data, strict on load so replayed facts and profiles have the right shape.

Loading names the path (and, for YAML, the line) of the first value of the wrong shape. A value
type (a dataclass with a `parse` classmethod, such as BuildVariant) is loaded from its text.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import os
import re
import stat
import sys
import typing
from typing import Any, Dict, Optional, Tuple, Type, TypeVar, Union

from gpusetup.errors import UsageError

T = TypeVar("T")

MAX_INPUT_BYTES = 32 * 2**20  # a facts file is ~20 KiB, a verify report ~50 KiB, a profile ~30 KiB
_INT_LIMIT = 2**63  # no fact or profile value is larger; bigger ones are hostile or corrupt
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class ShapeError(UsageError):
    """Data of the wrong shape at path (and line, when the data came from YAML)."""

    def __init__(self, path: str, problem: str, line: Optional[int] = None) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem, self.line = path, problem, line


class TextEnum(str, enum.Enum):
    """A closed vocabulary whose members are their strings: in JSON, in f-strings, under str()."""

    def __str__(self) -> str:  # Python 3.11+ would print "Class.MEMBER" for a (str, Enum) member
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class LineDict(Dict[str, Any]):
    """A mapping that remembers the YAML line of itself and of each key."""

    line: Optional[int] = None
    key_lines: Dict[str, int]


def to_jsonable(obj: Any) -> Any:
    """Plain dicts and lists for json.dumps."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj


def from_jsonable(cls: Type[T], data: Any, path: str = "facts") -> T:
    """Build cls from data; dataclasses may check values in __post_init__ by raising ValueError."""
    return typing.cast(T, _load(cls, data, path))


def _load(hint: Any, data: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return data
    if origin is Union:
        if data is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _load(inner[0], data, path)
    if origin in (list, typing.List):
        _expect(isinstance(data, list), path, "a list", data)
        return [_load(args[0], item, f"{path}[{i}]") for i, item in enumerate(data)]
    if origin in (dict, typing.Dict):
        _expect(isinstance(data, dict), path, "a mapping", data)
        return {
            _load(args[0], _text(str(k), path), path): _field(
                args[1], data, k, f"{path}.{str(k)[:40]}"
            )
            for k in data
        }
    if _is_value_type(hint):
        _expect(isinstance(data, str), path, "a string", data)
        return hint.parse(_text(data, path))  # a ValueError names the field in _load_dataclass
    if dataclasses.is_dataclass(hint):
        return _load_dataclass(hint, data, path)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _member(hint, data, path)
    if hint in (int, float):
        return _number(hint, data, path)
    if hint in (str, bool):
        _expect(isinstance(data, hint), path, f"a {'string' if hint is str else 'boolean'}", data)
        return _text(data, path) if hint is str else data
    raise TypeError(f"unsupported type in a data model: {hint!r}")


def _member(hint: Type[enum.Enum], data: Any, path: str) -> Any:
    """The member of a closed vocabulary that data names; any other string is a ShapeError."""
    _expect(isinstance(data, str), path, "a string", data)
    try:
        return hint(_text(data, path))
    except ValueError:
        known = ", ".join(str(m.value) for m in hint)
        raise ShapeError(
            path, f"unknown value {data[:40]!r} (one of {known})", getattr(data, "line", None)
        ) from None


def _is_value_type(hint: Any) -> bool:
    """A dataclass written as one string in the data: it parses itself (ValueError if it cannot)."""
    return dataclasses.is_dataclass(hint) and callable(getattr(hint, "parse", None))


def _number(hint: Any, data: Any, path: str) -> Any:
    """An int or float within range: no NaN, no infinity, no 4300-digit integer."""
    if hint is int:
        _expect(isinstance(data, int) and not isinstance(data, bool), path, "an integer", data)
    else:
        _expect(
            isinstance(data, (int, float)) and not isinstance(data, bool), path, "a number", data
        )
    if isinstance(data, float) and not math.isfinite(data):
        raise ShapeError(path, f"expected a finite number, got {data}", getattr(data, "line", None))
    if abs(data) >= _INT_LIMIT:
        raise ShapeError(path, "number out of range (at most 2**63)")
    return float(data) if hint is float else data


def _text(data: str, path: str) -> str:
    """A string with no NUL byte and no lone surrogate: neither is ever in a real fact or profile."""
    bad = _BAD_TEXT.search(data)
    if bad:
        what = "a NUL byte" if bad.group() == "\x00" else "a lone surrogate (not Unicode text)"
        raise ShapeError(path, f"contains {what}")
    return data


def _field(hint: Any, parent: Any, key: str, path: str) -> Any:
    """Load parent[key], attaching the key's YAML line to an error that has none."""
    try:
        return _load(hint, parent[key], path)
    except ShapeError as err:
        if err.line is None:
            err.line = getattr(parent, "key_lines", {}).get(key)
        raise


@functools.cache
def _shape(cls: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """A dataclass's resolved type hints and fields, computed once per class (it is the slow part)."""
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return hints, {f.name: f for f in dataclasses.fields(cls)}


def _load_dataclass(cls: Any, data: Any, path: str) -> Any:
    _expect(isinstance(data, dict), path, "a mapping", data)
    hints, fields = _shape(cls)
    line = getattr(data, "line", None)
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        key_line = getattr(data, "key_lines", {}).get(unknown[0], line)
        raise ShapeError(path, f"unknown field {unknown[0]!r}", key_line)
    kwargs: Dict[str, Any] = {}
    for name, field in fields.items():
        if name in data:
            try:
                kwargs[name] = _field(hints[name], data, name, f"{path}.{name}")
            except ValueError as err:  # a value type's text (a variant) that does not parse
                key_line = getattr(data, "key_lines", {}).get(name, line)
                raise ShapeError(path, f"{name}: {err}", key_line) from None
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ShapeError(path, f"missing field {name!r}", line)
    try:
        return cls(**kwargs)
    except ValueError as err:
        # A message that starts with a field name points at that field's line.
        field_line = getattr(data, "key_lines", {}).get(str(err).split(" ", 1)[0].rstrip(":"), line)
        raise ShapeError(path, str(err), field_line) from None


def _expect(ok: bool, path: str, what: str, data: Any) -> None:
    if not ok:
        got = "null" if data is None else type(data).__name__.replace("LineDict", "mapping")
        raise ShapeError(path, f"expected {what}, got {got}", getattr(data, "line", None))


def read_text_file(path: str, where: str, hint: str = "", limit: int = MAX_INPUT_BYTES) -> str:
    """A user-given file's UTF-8 text (read_bytes_file's rules); not UTF-8 is a UsageError too."""
    return decode_utf8(read_bytes_file(path, where, hint, limit), where, hint)


def decode_utf8(data: bytes, where: str, hint: str = "") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"{where}: not UTF-8 text (byte {err.start})", hint) from None


def read_bytes_file(path: str, where: str, hint: str = "", limit: int = MAX_INPUT_BYTES) -> bytes:
    """A user-given file's bytes. Only a regular file is opened (a FIFO would block, a link to
    /dev/zero would never end), never more than limit bytes are read, and every problem is a
    one-line UsageError."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise UsageError(f"{where}: not a file ({_kind(mode)})", hint)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file", hint) from None
    except (OSError, ValueError) as err:
        raise UsageError(
            f"{where}: cannot read: {getattr(err, 'strerror', None) or err}", hint
        ) from None
    try:
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):  # swapped for something else after the stat
                raise UsageError(f"{where}: not a file ({_kind(mode)})", hint)
            data = file.read(limit + 1)
    except OSError as err:
        raise UsageError(f"{where}: cannot read: {err.strerror}", hint) from None
    if len(data) > limit:
        raise UsageError(f"{where}: larger than {limit // 2**20} MiB", hint)
    return data


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def read_json_file(path: str, label: str = "", hint: str = "") -> Any:
    """A user-given JSON file's content; a missing, unreadable or non-JSON file is a UsageError.
    NaN and Infinity load as floats: the typed loader refuses them where a number belongs."""
    import json

    where = f"{label} {path}".strip()
    text = read_text_file(path, where, hint)
    try:
        return json.loads(text)
    except RecursionError:
        raise UsageError(f"{where}: not JSON (nested too deeply)", hint) from None
    except ValueError as err:
        raise UsageError(f"{where}: not JSON ({err})", hint) from None
