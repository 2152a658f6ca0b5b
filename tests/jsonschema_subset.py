"""A validator for the part of JSON Schema (draft 2020-12) that gpusetup's schema files use.

No runtime dependency: the package ships its schemas, and the tests check real outputs against them
with this. `closed=True` also refuses keys a schema object does not list (unless it says
`additionalProperties` itself): the tests' way to prove every key in an output is documented, while
the published schemas stay open to the additive changes the compatibility policy allows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List

SUPPORTED = {
    "$schema", "$id", "$defs", "$ref", "$comment", "title", "description", "type", "properties",
    "required", "additionalProperties", "items", "enum", "const", "pattern", "minimum", "maximum",
    "minLength", "anyOf", "examples",
}  # fmt: skip

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Validator:
    """Schemas of one directory, referring to each other by file name (`error.json#/$defs/error`)."""

    def __init__(self, directory: Path, closed: bool = False) -> None:
        self.schemas = {p.name: json.loads(p.read_text()) for p in directory.glob("*.json")}
        self.closed = closed

    def errors(self, name: str, instance: Any) -> List[str]:
        return list(self._check(self.schemas[name], instance, "$", name))

    def _resolve(self, ref: str, base: str) -> tuple[Dict[str, Any], str]:
        file, _, pointer = ref.partition("#")
        file = file or base
        node: Any = self.schemas[file]
        for part in [p for p in pointer.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, file

    def _check(self, schema: Dict[str, Any], value: Any, path: str, base: str) -> Iterator[str]:
        unknown = set(schema) - SUPPORTED
        if unknown:
            raise ValueError(f"{base}: keywords this validator does not know: {sorted(unknown)}")
        if "$ref" in schema:
            target, file = self._resolve(schema["$ref"], base)
            yield from self._check(target, value, path, file)
        yield from self._scalar(schema, value, path)
        if "anyOf" in schema:
            tries = [list(self._check(s, value, path, base)) for s in schema["anyOf"]]
            if all(tries):
                yield f"{path}: matches none of anyOf ({'; '.join(t[0] for t in tries)})"
        if isinstance(value, dict):
            yield from self._object(schema, value, path, base)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                yield from self._check(schema["items"], item, f"{path}[{i}]", base)

    def _scalar(self, schema: Dict[str, Any], value: Any, path: str) -> Iterator[str]:
        if "type" in schema:
            kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_TYPES[k](value) for k in kinds):
                yield f"{path}: {value!r:.60} is not {'/'.join(kinds)}"
                return
        if "const" in schema and value != schema["const"]:
            yield f"{path}: {value!r} is not {schema['const']!r}"
        if "enum" in schema and value not in schema["enum"]:
            yield f"{path}: {value!r} is not one of {schema['enum']}"
        if isinstance(value, str):
            if "pattern" in schema and not re.search(schema["pattern"], value):
                yield f"{path}: {value!r} does not match {schema['pattern']}"
            if len(value) < schema.get("minLength", 0):
                yield f"{path}: shorter than {schema['minLength']}"
        if _TYPES["number"](value):
            if "minimum" in schema and value < schema["minimum"]:
                yield f"{path}: {value} is below {schema['minimum']}"
            if "maximum" in schema and value > schema["maximum"]:
                yield f"{path}: {value} is above {schema['maximum']}"

    def _object(
        self, schema: Dict[str, Any], value: Dict[str, Any], path: str, base: str
    ) -> Iterator[str]:
        for key in schema.get("required", []):
            if key not in value:
                yield f"{path}: required key {key!r} is missing"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", not (self.closed and properties))
        for key, item in value.items():
            if key in properties:
                yield from self._check(properties[key], item, f"{path}.{key}", base)
            elif extra is False:
                yield f"{path}: key {key!r} is not documented"
            elif isinstance(extra, dict):
                yield from self._check(extra, item, f"{path}.{key}", base)
