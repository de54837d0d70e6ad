"""Typed inspector fields: what a designer types, read as the type the class tree expects.

The class tree fixes each property's type by its default (``classes.toml``);
a field's text is read as that type or refused with a sentence a designer
understands, never an exception::

    parse_field(30, "45")          # (45, None)
    parse_field(30, "lots")        # (None, "must be a whole number, got 'lots'")
    parse_field([12.0, 8.0], "14, 10")   # ([14.0, 10.0], None)
    format_field([14.0, 10.0])     # '14, 10'
"""

from __future__ import annotations

import math
import tomllib
from typing import Any

from gamelogic.classes import same_type, type_name

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _numbers(default: Any) -> bool:
    return (isinstance(default, list) and bool(default)
            and all(isinstance(d, (int, float)) and not isinstance(d, bool) for d in default))


def parse_field(default: Any, text: str) -> tuple[Any, str | None]:
    """``text`` as a value of ``default``'s type: ``(value, None)`` or ``(None, why not)``."""
    raw = text.strip()
    try:
        value = _parse(default, raw, text)
    except (ValueError, tomllib.TOMLDecodeError, TypeError, RecursionError, OverflowError):
        return None, f"must be {type_name(default)}, got {raw!r}"
    if not same_type(default, value):
        return None, f"must be {type_name(default)}, got {raw!r}"
    return value, None


def _parse(default: Any, raw: str, text: str) -> Any:
    if isinstance(default, bool):
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(raw)
    if isinstance(default, float):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, str):
        return text
    if _numbers(default):
        inner = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
        parts = [p for p in inner.replace(",", " ").split() if p]
        as_float = any(isinstance(d, float) for d in default)
        values = [float(p) if as_float else int(p) for p in parts]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(raw)
        return values
    if isinstance(default, list):
        if not raw:
            return []
        if raw.startswith("["):
            return tomllib.loads(f"v = {raw}")["v"]
        return [p.strip() for p in raw.split(",") if p.strip()]  # bare words: a list of names
    return tomllib.loads(f"v = {raw}")["v"]


def format_field(value: Any) -> str:
    """The text a field shows for ``value``; :func:`parse_field` reads it back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, list):
        if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return ", ".join(format_field(v) for v in value)
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return format_field(value)
