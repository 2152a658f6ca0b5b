"""report's input: doctor --json and verify --json files, checked for the shape report reads.

Every value report uses is checked for its type before it is used, so a hand-edited or foreign file
is one line naming the file and the field (exit 2), never a crash; missing fields are allowed.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple, Type, Union

from gpusetup.errors import UsageError
from gpusetup.plumbing.codec import read_json_file

KNOWN = ("gpusetup.doctor/1", "gpusetup.verify/1")
_HINT = "give the output of gpusetup doctor --json or verify --json (" + ", ".join(KNOWN) + ")"
_INT_LIMIT = 2**63

Kind = Union[Type[Any], Tuple[Type[Any], ...]]
_NUMBER: Kind = (int, float)
_VERIFY: Dict[str, Kind] = {"host": str, "passed": bool, "results": list, "devices": list}
_RESULT: Dict[str, Kind] = {
    "gpu": int,
    "name": str,
    "benchmark": str,
    "dtype": str,
    "value": _NUMBER,
    "unit": str,
    "fraction_of_peak": _NUMBER,
    "floor": _NUMBER,
    "ok": bool,
    "reason": str,
    "skipped": bool,
}
_DEVICE: Dict[str, Kind] = {"gpu": int, "name": str, "torch": str}
_DOCTOR: Dict[str, Kind] = {"facts": dict, "findings": list}
_FINDING: Dict[str, Kind] = {"id": str, "severity": str}


def read_reports(paths: Sequence[str]) -> List[Tuple[str, Dict[str, Any]]]:
    """Each file's JSON, checked to be a doctor or verify report this version understands."""
    if not paths:
        raise UsageError(
            "no report files given",
            "gpusetup report node1.json node2.json ... (doctor --json or verify --json)",
        )
    reports = []
    for path in paths:
        data = read_json_file(path, hint=_HINT)
        schema = data.get("schema") if isinstance(data, dict) else None
        if not isinstance(schema, str) or schema not in KNOWN:
            shown = repr(schema) if isinstance(schema, (str, type(None))) else type(schema).__name__
            raise UsageError(f"{path}: schema {shown[:80]} is not one gpusetup report reads", _HINT)
        check_report(path, data)
        reports.append((path, data))
    return reports


def check_report(path: str, data: Dict[str, Any]) -> None:
    """Raise a UsageError naming the first field report reads that has the wrong type."""
    if data["schema"] == "gpusetup.verify/1":
        _fields(path, "", data, _VERIFY)
        for name, fields in (("results", _RESULT), ("devices", _DEVICE)):
            for i, item in enumerate(data.get(name) or []):
                _fields(path, f"{name}[{i}]", item, fields)
    else:
        _fields(path, "", data, _DOCTOR)
        for i, item in enumerate(data.get("findings") or []):
            _fields(path, f"findings[{i}]", item, _FINDING)


def _fields(path: str, where: str, item: Any, fields: Dict[str, Kind]) -> None:
    if not isinstance(item, dict):
        raise UsageError(
            f"{path}: {where or 'the report'}: expected a mapping, got {_type(item)}", _HINT
        )
    for key, kind in fields.items():
        value = item.get(key)
        if value is None:
            continue
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if ok and isinstance(value, int) and not isinstance(value, bool):
            ok = abs(value) < _INT_LIMIT
        if not ok:
            name = f"{where}.{key}" if where else key
            raise UsageError(f"{path}: {name}: expected {_what(kind)}, got {_type(value)}", _HINT)


def _what(kind: Kind) -> str:
    names: Dict[Kind, str] = {
        str: "a string",
        bool: "true or false",
        int: "an integer in range",
        list: "a list",
        _NUMBER: "a number in range",
    }
    return names.get(kind, "a mapping")


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer out of range" if abs(value) >= _INT_LIMIT else "an integer"
    return {str: "a string", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )
