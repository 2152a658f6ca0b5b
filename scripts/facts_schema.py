"""Write src/gpusetup/schemas/facts.json from the facts model, or check that it is up to date.

The facts record (doctor --json's `facts`, and what doctor --facts reads back) is the dataclasses in
facts/model.py; its schema is derived from them so the two cannot drift (tests/test_schemas.py runs
`--check`). Usage: python3 scripts/facts_schema.py [--check]
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import typing
from pathlib import Path
from typing import Any, Dict, Union

from gpusetup.facts import model

OUT = Path(__file__).resolve().parents[1] / "src" / "gpusetup" / "schemas" / "facts.json"
BASE = "https://github.com/gpusetup/gpusetup/raw/main/src/gpusetup/schemas/"
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _of(hint: Any, defs: Dict[str, Any]) -> Dict[str, Any]:
    """The JSON Schema of one field's type, as plumbing/codec.py reads and writes it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return {}
    if origin is Union:
        inner = _of(next(a for a in args if a is not type(None)), defs)
        if "enum" in inner:
            return {**inner, "type": [inner["type"], "null"], "enum": [*inner["enum"], None]}
        if "type" in inner:
            return {**inner, "type": [inner["type"], "null"]}
        return {"anyOf": [inner, {"type": "null"}]}
    if origin in (list, typing.List):
        return {"type": "array", "items": _of(args[0], defs)}
    if origin in (dict, typing.Dict):
        return {"type": "object", "additionalProperties": _of(args[1], defs)}
    if dataclasses.is_dataclass(hint):
        name = hint.__name__
        if name not in defs:
            defs[name] = {}  # placed first: a type that refers to itself stops here
            hints = typing.get_type_hints(hint, vars(model))
            defs[name] = {
                "type": "object",
                "description": (hint.__doc__ or name).strip().splitlines()[0],
                "properties": {f.name: _of(hints[f.name], defs) for f in dataclasses.fields(hint)},
            }
        return {"$ref": f"#/$defs/{name}"}
    if isinstance(hint, type) and issubclass(
        hint, enum.Enum
    ):  # a closed set, written as its string
        return {"type": "string", "enum": [member.value for member in hint]}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    raise TypeError(f"no JSON Schema for {hint!r}")


def facts_schema() -> Dict[str, Any]:
    defs: Dict[str, Any] = {}
    root = _of(model.Facts, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE + "facts.json",
        "title": f"{model.FACTS_SCHEMA}: the facts doctor collected (derived from facts/model.py)",
        "description": "Every key of every record is documented here; None is null, 'not known'.",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def main() -> int:
    text = json.dumps(facts_schema(), indent=2) + "\n"
    if "--check" in sys.argv[1:]:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python3 scripts/facts_schema.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
