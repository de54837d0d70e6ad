"""Bach: WorldForge's readable text form of Atlas data, for logs and snooping.

Plain values print as Bach text and parse back::

    42                          an int
    32.85   1e+16   inf   nan   a float (always with '.', an exponent, or a word)
    "foo\\n"                    a string (escapes below)
    b"\\x00ab"                  bytes
    true  false  null           bool and None
    [69, 24.8, "bar"]           a list
    {name: "foo", height: 5.4}  a map; keys are bare identifiers, "strings" or ints
    {"pig"}                     a brace of bare values: read as the list ["pig"]
    {}                          the empty map

Whitespace and newlines may stand between any two tokens, ``#`` starts a
comment that runs to the end of the line, and a list or map may end with a
trailing comma. String escapes are ``\\" \\\\ \\/ \\n \\r \\t \\b \\f``,
``\\xHH`` (code point U+00HH), ``\\uHHHH`` and ``\\UHHHHHHHH``; raw control
characters other than tab are not allowed inside quotes. A bytes literal
``b"..."`` holds printable ASCII and the escapes ``\\" \\\\ \\n \\r \\t
\\xHH`` (the byte HH), so binary data stays readable in a log line.

A message prints as an Atlas operation: ``objtype: "op"``, ``parents`` naming
its class by ``bach_name`` (exactly one name: the class itself, not its
ancestors), then every field in declaration order. Guids print as
``"node:space:object"`` strings and nested messages as nested operations::

    >>> from engine.messages import Message, MessageRegistry
    >>> from engine.guid import Guid, make
    >>> reg = MessageRegistry()
    >>> class Move(Message, type_id=901, registry=reg):
    ...     pos: list[float]
    >>> text = dumps(Move(make(5, 12, 17), make(5, 12, 3), [0.5, 3.4, 9.7]))
    >>> text
    '{objtype: "op", parents: ["move"], to: "5:12:17", frm: "5:12:3", pos: [0.5, 3.4, 9.7]}'
    >>> loads(text, registry=reg) == Move(make(5, 12, 17), make(5, 12, 3), [0.5, 3.4, 9.7])
    True
    >>> loads_value('{name: "foo", height: 5.4}  # a map')
    {'name': 'foo', 'height': 5.4}

Parsing checks what the binary decoder checks: an unknown ``parents`` name,
an unknown or missing field (one without a default) or a value of the wrong
type is an error. A Guid field also takes a plain int; a float field also
takes an int (so hand-written ``[1, 2, 3]`` positions work). Whatever the
text, parsing raises only :class:`BachError`, which names line and column.
Printing a value Bach cannot express (a set, an object, a map key that is
neither str nor int) raises ``TypeError``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from engine.guid import MAX_GUID, format_guid, is_valid, parse_guid
from engine.messages import REGISTRY, FieldType, Message, MessageRegistry

__all__ = ["BachError", "dumps", "dumps_value", "loads", "loads_value"]

_MAX_DEPTH = 100
"""Deepest nesting of lists and maps accepted; deeper text is an error, not a crash."""

_tuple_new = tuple.__new__


class BachError(ValueError):
    """Text that is not valid Bach, or not a valid message; says where (1-based line and column)."""

    def __init__(self, msg: str, line: int, column: int):
        super().__init__(f"line {line}, column {column}: {msg}")
        self.msg = msg
        self.line = line
        self.column = column


# -- printing ------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STR_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def dumps_value(value: Any) -> str:
    """A plain value as one line of Bach text (a Message inside prints as an operation)."""
    return _dump_plain(value)


def dumps(message: Message) -> str:
    """A message as one line of Atlas-style Bach: ``{objtype: "op", parents: [...], ...}``."""
    if not isinstance(message, Message):
        raise TypeError(f"dumps wants a Message, got {type(message).__name__}; use dumps_value")
    return _dump_message(message)


def _dump_plain(v: Any) -> str:
    t = type(v)
    if t is str:
        return _dump_str(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return _dump_float(v)
    if v is None:
        return "null"
    if t is bytes or t is bytearray:
        return _dump_bytes(v)
    if isinstance(v, Message):
        return _dump_message(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join([_dump_plain(x) for x in v]) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join([f"{_dump_key(k)}: {_dump_plain(x)}" for k, x in v.items()]) + "}"
    for base in (int, float, str, bytes):  # subclasses: IntEnum, numpy.float64, ...
        if isinstance(v, base):
            return _dump_plain(base(v))
    raise TypeError(f"Bach cannot print a {t.__name__}: {v!r:.60}")


def _dump_float(v: float) -> str:
    if v != v:
        return "nan"
    return repr(v)  # '1.0', '1e+16', 'inf', '-inf': never mistaken for an int


def _dump_key(k: Any) -> str:
    if type(k) is str:
        return k if _IDENT.fullmatch(k) else _dump_str(k)
    if type(k) is int:
        return str(k)
    raise TypeError(f"Bach map keys are strings or ints, not {type(k).__name__}: {k!r:.60}")


def _dump_str(s: str) -> str:
    if s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = []
    for ch in s:
        esc = _STR_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _dump_bytes(b: bytes | bytearray) -> str:
    out = []
    for byte in b:
        ch = chr(byte)
        esc = _STR_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    return 'b"' + "".join(out) + '"'


def _dump_message(m: Message) -> str:
    cls = type(m)
    parts = ['objtype: "op"', f"parents: [{_dump_str(cls.bach_name)}]"]
    for f in cls.fields:
        parts.append(f"{_dump_key(f.name)}: {_dump_field(f.type, m[f.index])}")
    return "{" + ", ".join(parts) + "}"


def _dump_field(ft: FieldType, v: Any) -> str:
    # A value that does not fit its declared type still prints (plainly): a
    # log line must never fail, and parsing it back will say what is wrong.
    kind = ft.kind
    if kind == "guid" and is_valid(v):
        return f'"{format_guid(v)}"'
    if kind == "list" and ft.element is not None and isinstance(v, (list, tuple)):
        return "[" + ", ".join([_dump_field(ft.element, x) for x in v]) + "]"
    return _dump_plain(v)


# -- parsing -------------------------------------------------------------------


class _Node:
    """A parsed value with the offset it started at, so later checks can say where."""

    __slots__ = ("kind", "value", "offset")

    def __init__(self, kind: str, value: Any, offset: int):
        self.kind = kind  # int float str bytes bool null list map
        self.value = value  # list: list[_Node]; map: dict[key, tuple[_Node, _Node]]
        self.offset = offset


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)")
_WORDS = {"true": ("bool", True), "false": ("bool", False), "null": ("null", None),
          "inf": ("float", math.inf), "nan": ("float", math.nan)}
_STR_CHUNK = re.compile(r'[^"\\\x00-\x08\x0a-\x1f]+')
_BYTES_CHUNK = re.compile(r'[\x20-\x21\x23-\x5b\x5d-\x7e]+')
_SIMPLE_UNESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t",
                     "b": "\b", "f": "\f"}
_BYTES_UNESCAPES = {'"': 34, "\\": 92, "n": 10, "r": 13, "t": 9}
_MAX_NUMBER_CHARS = 4000  # below int()'s digit limit, so a huge literal is our error


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, msg: str, offset: int | None = None) -> BachError:
        line, column = _position(self.text, self.pos if offset is None else offset)
        return BachError(msg, line, column)

    def document(self) -> _Node:
        node = self.value()
        self.skip()
        if self.pos < len(self.text):
            raise self.error(f"unexpected {self.describe()} after the value")
        return node

    def describe(self) -> str:
        if self.pos >= len(self.text):
            return "end of input"
        return f"character {self.text[self.pos]!r}"

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        pos = self.pos
        while pos < n:
            ch = text[pos]
            if ch in " \t\r\n":
                pos += 1
            elif ch == "#":
                end = text.find("\n", pos)
                pos = n if end < 0 else end + 1
            else:
                break
        self.pos = pos

    def value(self) -> _Node:
        self.skip()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.error("expected a value, found end of input")
        ch = text[pos]
        if ch == '"':
            return _Node("str", self.string(), pos)
        if ch == "[":
            return self.container(pos, "[", "]")
        if ch == "{":
            return self.container(pos, "{", "}")
        if ch == "b" and text.startswith('b"', pos):
            self.pos += 1
            return _Node("bytes", self.bytes_literal(), pos)
        if ch.isascii() and (ch.isalpha() or ch == "_"):
            word = self.word()
            if word not in _WORDS:
                raise self.error(f"unknown word {word!r} (a string needs quotes)", pos)
            kind, v = _WORDS[word]
            return _Node(kind, v, pos)
        if ch in "+-" and text.startswith(("inf", "nan"), pos + 1):
            self.pos += 1
            word = self.word()
            if word not in ("inf", "nan"):
                raise self.error(f"expected a number after {ch!r}", pos)
            v = _WORDS[word][1]
            return _Node("float", -v if ch == "-" else v, pos)
        m = _NUMBER.match(text, pos)
        if m is None:
            raise self.error(f"expected a value, found {self.describe()}")
        literal = m.group()
        self.pos = m.end()
        if self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] in "_."):
            raise self.error(f"malformed number {literal + text[self.pos]!r}", pos)
        if len(literal) > _MAX_NUMBER_CHARS:
            raise self.error(f"number of {len(literal)} characters is too long", pos)
        if any(c in literal for c in ".eE"):
            return _Node("float", float(literal), pos)
        return _Node("int", int(literal), pos)

    def word(self) -> str:
        m = _IDENT.match(self.text, self.pos)
        assert m is not None  # callers checked the first character
        self.pos = m.end()
        return m.group()

    def container(self, start: int, opening: str, closing: str) -> _Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"nested more than {_MAX_DEPTH} deep", start)
        self.pos += 1
        self.skip()
        if opening == "[":
            node = _Node("list", self.items(closing, []), start)
        elif self.text.startswith("}", self.pos):
            self.pos += 1
            node = _Node("map", {}, start)
        else:
            first = self.key_or_value()
            self.skip()
            if self.text.startswith(":", self.pos):
                node = _Node("map", self.map_items(first), start)
            else:  # {"pig"}: a brace of bare values, as Atlas writes parents
                node = _Node("list", self.items(closing, [first], after_first=True), start)
        self.depth -= 1
        return node

    def items(self, closing: str, out: list[_Node], after_first: bool = False) -> list[_Node]:
        while True:
            self.skip()
            if self.text.startswith(closing, self.pos):
                self.pos += 1
                return out
            if after_first or out:
                if not self.text.startswith(",", self.pos):
                    raise self.error(f"expected ',' or {closing!r}, found {self.describe()}")
                self.pos += 1
                self.skip()
                if self.text.startswith(closing, self.pos):
                    self.pos += 1
                    return out
            after_first = False
            out.append(self.value())

    def key_or_value(self) -> _Node:
        """The first item in braces: a bare identifier key, or any value."""
        text, pos = self.text, self.pos
        m = _IDENT.match(text, pos)
        if m is not None and not text.startswith('b"', pos):
            self.pos = m.end()
            self.skip()
            if self.text.startswith(":", self.pos):
                return _Node("key", m.group(), pos)
            self.pos = pos
        return self.value()

    def map_items(self, first: _Node) -> dict[Any, tuple[_Node, _Node]]:
        out: dict[Any, tuple[_Node, _Node]] = {}
        key = first
        while True:
            if key.kind not in ("key", "str", "int"):
                raise self.error("a map key must be a name, a string or an int", key.offset)
            if key.value in out:
                raise self.error(f"duplicate key {key.value!r}", key.offset)
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.error(f"expected ':' after key {key.value!r}, found {self.describe()}")
            self.pos += 1
            out[key.value] = (key, self.value())
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            if not self.text.startswith(",", self.pos):
                raise self.error(f"expected ',' or '}}', found {self.describe()}")
            self.pos += 1
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            if self.pos >= len(self.text):
                raise self.error("expected a key, found end of input")
            key = self.key_or_value()

    def string(self) -> str:
        text, start = self.text, self.pos
        pos = start + 1
        out = []
        while True:
            m = _STR_CHUNK.match(text, pos)
            if m is not None:
                out.append(m.group())
                pos = m.end()
            if pos >= len(text):
                raise self.error("unterminated string", start)
            ch = text[pos]
            if ch == '"':
                self.pos = pos + 1
                return "".join(out)
            if ch != "\\":
                raise self.error(f"raw control character {ch!r} in a string (escape it)", pos)
            esc = text[pos + 1 : pos + 2]
            simple = _SIMPLE_UNESCAPES.get(esc)
            if simple is not None:
                out.append(simple)
                pos += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(esc)
            if width is None:
                raise self.error(f"unknown escape '\\{esc}' in a string", pos)
            code = self.hex_digits(pos + 2, width, pos)
            if code > 0x10FFFF:
                raise self.error(f"escape '\\{esc}{code:x}' is beyond Unicode", pos)
            out.append(chr(code))
            pos += 2 + width

    def bytes_literal(self) -> bytes:
        text, start = self.text, self.pos
        pos = start + 1
        out = bytearray()
        while True:
            m = _BYTES_CHUNK.match(text, pos)
            if m is not None:
                out += m.group().encode("ascii")
                pos = m.end()
            if pos >= len(text):
                raise self.error("unterminated bytes literal", start - 1)
            ch = text[pos]
            if ch == '"':
                self.pos = pos + 1
                return bytes(out)
            if ch != "\\":
                raise self.error(f"character {ch!r} in bytes: only printable ASCII and escapes", pos)
            esc = text[pos + 1 : pos + 2]
            if esc in _BYTES_UNESCAPES:
                out.append(_BYTES_UNESCAPES[esc])
                pos += 2
            elif esc == "x":
                out.append(self.hex_digits(pos + 2, 2, pos))
                pos += 4
            else:
                raise self.error(f"unknown escape '\\{esc}' in bytes (use \\xHH)", pos)

    def hex_digits(self, at: int, width: int, escape_at: int) -> int:
        digits = self.text[at : at + width]
        if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise self.error(f"escape needs {width} hex digits", escape_at)
        return int(digits, 16)


def _plain(node: _Node) -> Any:
    kind = node.kind
    if kind == "list":
        return [_plain(n) for n in node.value]
    if kind == "map":
        return {k: _plain(v) for k, (_, v) in node.value.items()}
    return node.value


def _parse(text: str) -> tuple[_Parser, _Node]:
    if not isinstance(text, str):
        raise BachError(f"Bach text must be a str, not {type(text).__name__}", 1, 1)
    parser = _Parser(text)
    try:
        return parser, parser.document()
    except RecursionError:  # only if the caller's stack was already deep
        raise parser.error("nested too deeply for the interpreter's stack") from None


def loads_value(text: str) -> Any:
    """Parse one plain Bach value; maps become dicts, ``{"pig"}`` a list."""
    return _plain(_parse(text)[1])


def loads(text: str, registry: MessageRegistry = REGISTRY) -> Message:
    """Parse an operation printed by :func:`dumps` back into its Message."""
    parser, node = _parse(text)
    return _Loader(parser, registry).message(node, Message, "")


_KIND_NAMES = {"int": "an int", "float": "a float", "str": "a string", "bytes": "bytes",
               "bool": "a bool", "null": "null", "list": "a list", "map": "a map"}


class _Loader:
    """Checks a parsed tree against the message schemas, as the binary decoder does."""

    def __init__(self, parser: _Parser, registry: MessageRegistry):
        self.parser = parser
        self.registry = registry

    def fail(self, node: _Node, where: str, msg: str) -> BachError:
        return self.parser.error(f"{where}: {msg}" if where else msg, node.offset)

    def message(self, node: _Node, bound: type[Message], where: str) -> Message:
        if node.kind != "map":
            raise self.fail(node, where, f"an operation must be a map, got {_KIND_NAMES[node.kind]}")
        items = dict(node.value)
        objtype = items.pop("objtype", None)
        if objtype is None:
            raise self.fail(node, where, 'missing objtype: "op"')
        if objtype[1].kind != "str" or objtype[1].value != "op":
            raise self.fail(objtype[1], where, 'objtype must be "op"')
        parents = items.pop("parents", None)
        if parents is None:
            raise self.fail(node, where, "missing parents (the message's Bach name)")
        names = parents[1]
        if names.kind != "list" or len(names.value) != 1 or names.value[0].kind != "str":
            raise self.fail(names, where, 'parents must be a list of one name, e.g. ["move"]')
        name = names.value[0].value
        cls = self.registry.by_name(name)
        if cls is None:
            raise self.fail(names.value[0], where, f"unknown operation {name!r}")
        if not issubclass(cls, bound):
            raise self.fail(names.value[0], where, f"wants a {bound.bach_name}, got {name!r}")
        where = f"{where}.{cls.bach_name}" if where else cls.bach_name
        values: list[Any] = [cls.type_id]
        for f in cls.fields:
            item = items.pop(f.name, None)
            if item is None:
                if not f.has_default:
                    raise self.fail(node, where, f"missing field {f.name!r}")
                values.append(f.default)
            else:
                values.append(self.field(f.type, item[1], f"{where}.{f.name}"))
        if items:
            key_node, _ = next(iter(items.values()))
            raise self.fail(key_node, where, f"unknown field {key_node.value!r}")
        return _tuple_new(cls, values)

    def field(self, ft: FieldType, node: _Node, where: str) -> Any:
        kind = node.kind
        if kind == "null":
            if ft.optional:
                return None
            raise self.fail(node, where, f"wants {ft.describe()}, got null")
        want = ft.kind
        if want == "any":
            return _plain(node)
        if want == "guid":
            if kind == "str":
                try:
                    return parse_guid(node.value)
                except ValueError as exc:
                    raise self.fail(node, where, str(exc)) from None
            if kind == "int" and 0 <= node.value <= MAX_GUID:
                return node.value
            raise self.fail(node, where, f'wants a Guid ("node:space:object"), got {_KIND_NAMES[kind]}')
        if want == "message":
            return self.message(node, ft.message_class or Message, where)
        if want == "float" and kind == "int":
            try:
                return float(node.value)
            except OverflowError:
                raise self.fail(node, where, "int too large for a float") from None
        if want == "dict":
            want = "map"
        if kind != want:
            raise self.fail(node, where, f"wants {ft.describe()}, got {_KIND_NAMES[kind]}")
        if kind == "list" and ft.element is not None:
            return [self.field(ft.element, n, f"{where}[{i}]") for i, n in enumerate(node.value)]
        return _plain(node)
