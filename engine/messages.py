"""Typed messages: the only thing modules, ObjectSpaces and nodes exchange.

A message class declares its payload fields as annotations and takes a
stable small integer type id, unique in the registry::

    class Move(Message, type_id=1001):
        pos: list[float]
        speed: float = 0.0

    m = Move(to=pig, frm=me, pos=[0.5, 3.4, 9.7])
    m.to, m.pos            # fields by name
    m.replace(frm=other)   # messages are immutable; replace() makes a copy

Subclassing adds fields after the parent's, so an Atlas-style tree of
operations (``Sight(Perception)``) is a tree of classes. A class without a
``type_id`` is abstract: it shares fields with its children but is never
sent.

Why a tuple and not an attrs class: a message *is* its wire form
``(type_id, to, frm, *fields)``, so encoding a batch is one msgpack call with
no per-message Python code, and decoding builds each message from the
decoded array without copying. Construction is as fast as a namedtuple. The
measurements behind the choice are in ``docs/design.md``.

Field types are checked where data is untrusted, in the decoder
(``engine.codec``); code that builds a message in-process is trusted.
"""

from __future__ import annotations

import keyword
import typing
from collections import _tuplegetter  # type: ignore[attr-defined]  # namedtuple's fast accessor
from typing import Any, ClassVar

import attrs

from engine.guid import Guid, format_guid, is_valid

_tuple_new = tuple.__new__

#: Type ids the engine uses for its own messages; games start at GAME_TYPE_IDS.
ENGINE_TYPE_IDS = range(1, 1000)
GAME_TYPE_IDS = range(1000, 1 << 31)


class MessageDefinitionError(TypeError):
    """A message class is declared wrongly (duplicate type id, bad field type...)."""


@attrs.frozen(slots=True)
class FieldType:
    """What a field may hold: a wire kind plus, for lists, the element type.

    ``kind`` is one of ``int float bool str bytes guid list dict any message``;
    ``element`` is the FieldType of list elements (or None for any element);
    ``message_class`` bounds a nested message; ``optional`` allows None.
    """

    kind: str
    element: FieldType | None = None
    message_class: type[Message] | None = None
    optional: bool = False

    def describe(self) -> str:
        if self.kind == "message":
            base = self.message_class.__name__ if self.message_class else "Message"
        elif self.kind == "list" and self.element is not None:
            base = f"list[{self.element.describe()}]"
        else:
            base = self.kind
        return f"{base} | None" if self.optional else base


@attrs.frozen(slots=True)
class Field:
    """One payload field: its name, position in the wire tuple and type."""

    name: str
    index: int
    type: FieldType
    default: Any = attrs.field(default=attrs.NOTHING, eq=False)

    @property
    def has_default(self) -> bool:
        return self.default is not attrs.NOTHING


_SCALARS = {int: "int", float: "float", bool: "bool", str: "str", bytes: "bytes"}


def _field_type(hint: Any, owner: str, name: str) -> FieldType:
    """Translate an annotation into a FieldType, or explain why it is not allowed."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(hint)) != 2:
            raise MessageDefinitionError(f"{owner}.{name}: only 'X | None' unions are allowed")
        optional = True
        hint = args[0]
        origin = typing.get_origin(hint)
    if hint is Guid:
        return FieldType("guid", optional=optional)
    if hint in _SCALARS:
        return FieldType(_SCALARS[hint], optional=optional)
    if hint is Any:
        return FieldType("any", optional=True)
    if hint is dict or origin is dict:
        return FieldType("dict", optional=optional)
    if hint is list or origin is list:
        args = typing.get_args(hint)
        element = _field_type(args[0], owner, name) if args else None
        return FieldType("list", element=element, optional=optional)
    if isinstance(hint, type) and issubclass(hint, Message):
        return FieldType("message", message_class=hint, optional=optional)
    raise MessageDefinitionError(
        f"{owner}.{name}: field type {hint!r} is not one of int, float, bool, str, bytes, "
        "Guid, list, list[T], dict, Any, a Message class, or 'X | None'"
    )


class MessageRegistry:
    """Type id -> message class, with a duplicate id refused at class creation."""

    def __init__(self) -> None:
        self._by_id: dict[int, type[Message]] = {}
        self._by_name: dict[str, type[Message]] = {}

    def register(self, cls: type[Message]) -> None:
        tid = cls.type_id
        if type(tid) is not int or not 1 <= tid < (1 << 31):
            raise MessageDefinitionError(f"{cls.__qualname__}: type_id must be an int in 1..2**31-1")
        other = self._by_id.get(tid)
        if other is not None:
            raise MessageDefinitionError(
                f"type_id {tid} of {cls.__module__}.{cls.__qualname__} is already taken by "
                f"{other.__module__}.{other.__qualname__}"
            )
        name = cls.bach_name
        if name in self._by_name:
            raise MessageDefinitionError(
                f"{cls.__qualname__}: Bach name {name!r} already taken by "
                f"{self._by_name[name].__qualname__}"
            )
        self._by_id[tid] = cls
        self._by_name[name] = cls

    def unregister(self, cls: type[Message]) -> None:
        """Forget a class (for tests that define throwaway messages)."""
        if self._by_id.get(cls.type_id) is cls:
            del self._by_id[cls.type_id]
            del self._by_name[cls.bach_name]

    def by_id(self, type_id: int) -> type[Message] | None:
        return self._by_id.get(type_id)

    def by_name(self, name: str) -> type[Message] | None:
        return self._by_name.get(name)

    def classes(self) -> list[type[Message]]:
        """Every registered class, by type id."""
        return [self._by_id[k] for k in sorted(self._by_id)]

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)


REGISTRY = MessageRegistry()
"""The registry every Message subclass joins unless it names another."""


class _MessageClass(type):
    """Gives every message class ``__slots__ = ()`` unless it declares its own.

    A message is an immutable value: without this, each subclass would get
    an instance ``__dict__``, so ``msg.anything = x`` would quietly work. The
    C decoder leaves messages of plain values out of the garbage collector,
    which is only sound while they cannot hold a reference back to
    themselves; no ``__dict__`` is what guarantees that.
    """

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any):
        namespace.setdefault("__slots__", ())
        return super().__new__(mcls, name, bases, namespace, **kwargs)


class Message(tuple, metaclass=_MessageClass):
    """Base of every message: a ``to`` and a ``frm`` Guid, then payload fields.

    Subclass with ``type_id=N`` to define a concrete message; see the module
    docstring. Instances are immutable tuples ``(type_id, to, frm, ...)``.
    """

    __slots__ = ()

    to: Guid
    frm: Guid

    type_id: ClassVar[int] = 0
    fields: ClassVar[tuple[Field, ...]] = ()
    bach_name: ClassVar[str] = "message"
    registry: ClassVar[MessageRegistry] = REGISTRY
    has_nested: ClassVar[bool] = False
    """True if a field holds messages, so decoding needs more than a type check."""

    def __init_subclass__(
        cls,
        *,
        type_id: int | None = None,
        registry: MessageRegistry | None = None,
        bach_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if registry is not None:
            cls.registry = registry
        cls.bach_name = bach_name or _snake(cls.__name__)
        cls.fields = _collect_fields(cls)
        cls.has_nested = any(_holds_messages(f.type) for f in cls.fields)
        for f in cls.fields:
            setattr(cls, f.name, _tuplegetter(f.index, f"{f.type.describe()}"))
        if type_id is None:
            cls.type_id = 0
            cls.__new__ = _abstract_new  # type: ignore[method-assign]
            return
        cls.type_id = type_id
        cls.__new__ = _make_new(cls)  # type: ignore[method-assign]
        cls.registry.register(cls)

    # -- reading ---------------------------------------------------------------

    def payload(self) -> tuple[Any, ...]:
        """The fields after ``to`` and ``frm``, in declaration order."""
        return tuple(self[3:])

    def as_dict(self) -> dict[str, Any]:
        """Field name -> value, ``to`` and ``frm`` included."""
        return {f.name: self[f.index] for f in self.fields}

    def replace(self, **changes: Any) -> Message:
        """A copy with some fields changed (messages are immutable)."""
        values = list(self)
        for name, value in changes.items():
            f = self._field_named(name)
            values[f.index] = value
        return _tuple_new(type(self), values)

    @classmethod
    def _field_named(cls, name: str) -> Field:
        for f in cls.fields:
            if f.name == name:
                return f
        raise TypeError(f"{cls.__name__} has no field {name!r}")

    def __repr__(self) -> str:
        parts = []
        for f in self.fields:
            value = self[f.index]
            shown = format_guid(value) if f.type.kind == "guid" and is_valid(value) else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self[1:])

    # tuples compare and hash by value; two messages of different classes
    # differ in element 0, the type id, so plain tuple equality is right.


def with_frm(messages: list[Message], frm: Guid) -> list[Message]:
    """Copies of ``messages`` with ``frm`` replaced: a server stamping who sent them."""
    return [_tuple_new(m.__class__, (m[0], m[1], frm, *m[3:])) for m in messages]


def _snake(name: str) -> str:
    """``PositionUpdate`` -> ``position_update``, ``HTTPRequest`` -> ``http_request``."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            prev_lower = not name[i - 1].isupper()
            next_lower = i + 1 < len(name) and name[i + 1].islower()
            if prev_lower or next_lower:
                out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _holds_messages(ft: FieldType) -> bool:
    return ft.kind == "message" or (ft.kind == "list" and ft.element is not None
                                    and _holds_messages(ft.element))


def _collect_fields(cls: type[Message]) -> tuple[Field, ...]:
    """Fields of every class in the MRO, base first; ``to``/``frm`` at 1 and 2."""
    fields: list[Field] = []
    seen: set[str] = set()
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, Message)):
            continue
        own = klass.__dict__.get("__annotations__", {})
        if not own:
            continue
        hints = typing.get_type_hints(klass, include_extras=False)
        for name in own:
            hint = hints[name]
            if typing.get_origin(hint) is ClassVar or hint is ClassVar:
                continue
            if name in seen:
                raise MessageDefinitionError(f"{cls.__qualname__}: field {name!r} declared twice")
            if name.startswith("_") or keyword.iskeyword(name) or name in _RESERVED:
                raise MessageDefinitionError(f"{cls.__qualname__}: {name!r} cannot be a field name")
            seen.add(name)
            default = _declared_default(cls, klass, name)
            ftype = _field_type(hint, cls.__qualname__, name)
            fields.append(Field(name, len(fields) + 1, ftype, default))
    _check_default_order(cls, fields)
    return tuple(fields)


def _declared_default(cls: type, klass: type, name: str) -> Any:
    """The default of field ``name`` declared in ``klass`` (NOTHING if none).

    A parent has already swapped its class attributes for accessors, so its
    defaults are read back from its Field records.
    """
    if klass is not cls:
        declared = next((f for f in klass.__dict__.get("fields", ()) if f.name == name), None)
        return declared.default if declared is not None else attrs.NOTHING
    default = cls.__dict__.get(name, attrs.NOTHING)
    if isinstance(default, (list, dict, set)):
        raise MessageDefinitionError(
            f"{cls.__qualname__}.{name}: a mutable default would be shared; "
            "pass the value at construction"
        )
    return default


_RESERVED = {"type_id", "fields", "bach_name", "registry", "has_nested", "payload", "as_dict",
             "replace", "count", "index"}


def _check_default_order(cls: type, fields: list[Field]) -> None:
    seen_default = False
    for f in fields:
        if f.has_default:
            seen_default = True
        elif seen_default:
            raise MessageDefinitionError(
                f"{cls.__qualname__}: field {f.name!r} without a default follows one with a default"
            )


def _abstract_new(cls: type, *args: Any, **kwargs: Any) -> Message:
    raise TypeError(f"{cls.__name__} has no type_id: it is abstract and cannot be built")


def _make_new(cls: type[Message]) -> Any:
    """Generate ``__new__(cls, to, frm, f1, f2=default, ...)`` like namedtuple does."""
    names = [f.name for f in cls.fields]
    params = []
    namespace: dict[str, Any] = {"_tn": _tuple_new}
    for f in cls.fields:
        if f.has_default:
            namespace[f"_d_{f.name}"] = f.default
            params.append(f"{f.name}=_d_{f.name}")
        else:
            params.append(f.name)
    body = f"({cls.type_id}, {', '.join(names)},)"
    source = f"def __new__(_cls, {', '.join(params)}):\n    return _tn(_cls, {body})\n"
    exec(source, namespace)
    new = namespace["__new__"]
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    new.__doc__ = f"Build a {cls.__name__} ({', '.join(names)})."
    return new
