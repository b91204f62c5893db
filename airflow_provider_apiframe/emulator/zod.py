"""
Values checked against the catalogue's JSON schemas the way the vendor's Zod validator checks them.

A small walker over exactly the keywords the catalogue uses, rather than ``jsonschema``: Zod stops at a
type mismatch but reports every failed check after a passed one, words a non-string given to an enum with
the enum's options, calls a fractional integer ``Expected integer, received float`` and counts a string's
length in UTF-16 units, as JavaScript does. jsonschema reports type and enum failures side by side and
counts code points, so its errors would have to be filtered and reworded one kind at a time; nor is it a
dependency of the emulator's extra. A keyword the walker does not know stops the catalogue from loading
(:func:`require_supported`) rather than being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

# Every keyword this module implements; ``type`` may be one name or a list (``["array", "null"]``).
SUPPORTED_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "items",
        "minItems",
        "maxItems",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "anyOf",
        "properties",
        "required",
        "additionalProperties",
    }
)
SUPPORTED_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
SUPPORTED_FORMATS = frozenset({"uri", "uuid"})

# One problem: the JSON path (dotted, array items by index) and Zod's message.
Problem = tuple[str, str]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def require_supported(schema: Mapping[str, Any], where: str) -> None:
    """Refuse a schema that uses anything this walker would not check."""
    unknown = set(schema) - SUPPORTED_KEYWORDS
    if unknown:
        raise ValueError(f"{where}: schema keywords {sorted(unknown)} are not supported by the emulator")
    unknown_types = set(_types(schema)) - SUPPORTED_TYPES
    if unknown_types:
        raise ValueError(f"{where}: types {sorted(unknown_types)} are not supported by the emulator")
    if "format" in schema and schema["format"] not in SUPPORTED_FORMATS:
        raise ValueError(f"{where}: format {schema['format']!r} is not supported by the emulator")
    if "items" in schema:
        require_supported(schema["items"], f"{where}.items")
    for index, option in enumerate(schema.get("anyOf", ())):
        require_supported(option, f"{where}.anyOf.{index}")
    for name, child_schema in schema.get("properties", {}).items():
        require_supported(child_schema, f"{where}.{name}")
    if schema.get("additionalProperties", False) is not False:
        raise ValueError(f"{where}: only additionalProperties false is supported by the emulator")


def type_name(value: object) -> str:
    """Name a value's type as Zod does when it says what it received."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def join_values(values: Iterable[object]) -> str:
    """Options as Zod lists them: ``'a' | 'b'``."""
    return " | ".join(f"'{value}'" if isinstance(value, str) else str(value) for value in values)


def expected(kind: str, value: object) -> str:
    """Word a wrong type as Zod does: what it expected, and what it received."""
    return f"Expected {kind}, received {type_name(value)}"


def child(path: str, key: str | int) -> str:
    """Return the path of ``key`` under ``path``, dotted as the API writes its error paths."""
    return f"{path}.{key}" if path else str(key)


def js_length(text: str) -> int:
    """Measure a string as JavaScript does: in UTF-16 code units (an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def is_http_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host."""
    # Stricter than Zod's ``new URL()``: a webhook or an input image must be fetchable over HTTP(S).
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def problems(schema: Mapping[str, Any], value: object, path: str) -> Iterator[Problem]:
    """Every problem Zod would report for ``value`` at ``path``; none for a valid value."""
    if "anyOf" in schema:
        yield from _union_problems(schema["anyOf"], value, path)
        return
    kinds = _types(schema)
    if value is None and "null" in kinds:
        return
    kind = next((k for k in kinds if k != "null"), None)
    if "enum" in schema:
        options = schema["enum"]
        if kind is not None and not _is_kind(value, kind):
            yield path, f"Expected {join_values(options)}, received {type_name(value)}"
        elif not any(type(value) is type(option) and value == option for option in options):
            yield path, f"Invalid enum value. Expected {join_values(options)}, received '{value}'"
        return
    if kind is not None and not _is_kind(value, kind):
        # Zod names an integer field's type "number": the integer check comes after.
        yield path, expected("number" if kind == "integer" else kind, value)
        return
    if isinstance(value, str):
        yield from _string_problems(schema, value, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield from _number_problems(schema, kind, value, path)
    elif isinstance(value, list):
        yield from _array_problems(schema, value, path)
    elif isinstance(value, dict):
        yield from _object_problems(schema, value, path)


def _union_problems(options: Iterable[Mapping[str, Any]], value: object, path: str) -> Iterator[Problem]:
    # Zod's union passes if one option does. Else, if an option took the value's type and failed only a
    # check after it (a "dirty" result: a range, a length), that option's problems are the answer; else one
    # "Invalid input" for the whole union (a literal that does not match is never dirty).
    failures = []
    for option in options:
        found = list(problems(option, value, path))
        if not found:
            return
        failures.append((option, found))
    for option, found in failures:
        kind = next((k for k in _types(option) if k != "null"), None)
        if "enum" not in option and "anyOf" not in option and kind is not None and _is_kind(value, kind):
            yield from found
            return
    yield path, "Invalid input"


def _object_problems(schema: Mapping[str, Any], value: dict[str, Any], path: str) -> Iterator[Problem]:
    # A strict Zod object (additionalProperties false): each missing key and each unknown key at its path.
    properties: Mapping[str, Mapping[str, Any]] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            yield child(path, name), "Required"
    for name, item in value.items():
        if name in properties:
            yield from problems(properties[name], item, child(path, name))
        elif "properties" in schema:
            yield child(path, name), "Unrecognized key"


def _types(schema: Mapping[str, Any]) -> tuple[str, ...]:
    kinds = schema.get("type", ())
    return (kinds,) if isinstance(kinds, str) else tuple(kinds)


def _is_kind(value: object, kind: str) -> bool:
    if kind in ("number", "integer"):
        # JSON has no integer type: 2.5 is a number that fails the integer check, not the type check.
        return isinstance(value, int | float) and not isinstance(value, bool)
    classes: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "boolean": bool,
        "array": list,
        "object": dict,
        "null": type(None),
    }
    return isinstance(value, classes[kind])


def _string_problems(schema: Mapping[str, Any], value: str, path: str) -> Iterator[Problem]:
    length = js_length(value)
    if "minLength" in schema and length < schema["minLength"]:
        yield path, f"String must contain at least {schema['minLength']} character(s)"
    if "maxLength" in schema and length > schema["maxLength"]:
        yield path, f"String must contain at most {schema['maxLength']} character(s)"
    if schema.get("format") == "uri" and not is_http_url(value):
        yield path, "Invalid url"
    if schema.get("format") == "uuid" and not _UUID.fullmatch(value):
        yield path, "Invalid uuid"
    if "pattern" in schema and not _ecma_pattern(schema["pattern"]).search(value):
        yield path, "Invalid"


def _number_problems(
    schema: Mapping[str, Any], kind: str | None, value: float, path: str
) -> Iterator[Problem]:
    if kind == "integer" and isinstance(value, float) and not value.is_integer():
        yield path, "Expected integer, received float"
    if "minimum" in schema and value < schema["minimum"]:
        yield path, f"Number must be greater than or equal to {_js_number(schema['minimum'])}"
    if "maximum" in schema and value > schema["maximum"]:
        yield path, f"Number must be less than or equal to {_js_number(schema['maximum'])}"
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        yield path, f"Number must be greater than {_js_number(schema['exclusiveMinimum'])}"
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        yield path, f"Number must be less than {_js_number(schema['exclusiveMaximum'])}"


def _array_problems(schema: Mapping[str, Any], value: list[Any], path: str) -> Iterator[Problem]:
    if "minItems" in schema and len(value) < schema["minItems"]:
        yield path, f"Array must contain at least {schema['minItems']} element(s)"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        yield path, f"Array must contain at most {schema['maxItems']} element(s)"
    if "items" in schema:
        for index, item in enumerate(value):
            yield from problems(schema["items"], item, child(path, index))


def _js_number(number: float) -> str:
    # JavaScript prints 10.0 as "10".
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


@cache
def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    # A JSON-schema pattern is an ECMAScript regex: \d means ASCII digits, and an unescaped $ matches only
    # at the very end (Python's $ also matches before a final newline, so it becomes \Z).
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern), re.ASCII)
