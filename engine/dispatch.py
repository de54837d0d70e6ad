"""Handlers by message type: ``@handles(Move)`` on a method, looked up by class.

Modules and GameObjects both receive messages and pick a method by the
message's class. A handler declared for a parent class also receives its
subclasses (an Atlas ``Sight`` handler sees every kind of sight) unless a
more specific one is declared; the lookup walks the MRO once per class and
caches the answer.

>>> class Ping: pass
>>> class Pong(Ping): pass
>>> class Listener(Dispatching):
...     @handles(Ping)
...     def on_ping(self, msg): return "ping"
>>> Listener().dispatch(Pong())
'ping'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_HANDLES_ATTR = "__spenefett_handles__"


def handles(*message_types: type) -> Callable[[F], F]:
    """Mark a method as the handler for ``message_types`` (and their subclasses)."""
    if not message_types:
        raise TypeError("handles() needs at least one message type")

    def mark(fn: F) -> F:
        existing = getattr(fn, _HANDLES_ATTR, ())
        setattr(fn, _HANDLES_ATTR, tuple(existing) + message_types)
        return fn

    return mark


class Dispatching:
    """Mixin: builds the class's handler table from ``@handles`` methods."""

    _handler_names: dict[type, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for message_type in getattr(value, _HANDLES_ATTR, ()):
                    names[message_type] = attr
        cls._handler_names = names

    def _bound_handlers(self) -> dict[type, Callable[[Any], Any]]:
        """Message class -> bound method, for this instance."""
        table = self.__dict__.get("_handler_table")
        if table is None:
            table = {t: getattr(self, n) for t, n in self._handler_names.items()}
            self.__dict__["_handler_table"] = table
        return table

    def handler_for(self, message_type: type) -> Callable[[Any], Any] | None:
        """The handler for ``message_type``: its own or the nearest parent's."""
        table = self._bound_handlers()
        handler = table.get(message_type)
        if handler is None:
            for klass in message_type.__mro__[1:]:
                handler = table.get(klass)
                if handler is not None:
                    break
            else:
                handler = self.unhandled
            table[message_type] = handler
        return handler

    def dispatch(self, message: Any) -> Any:
        """Call the handler for ``message``; ``unhandled`` when there is none."""
        handler = self._bound_handlers().get(message.__class__)
        if handler is None:
            handler = self.handler_for(message.__class__)
        return handler(message)

    def unhandled(self, message: Any) -> Any:
        """Called for a message no handler takes. Override to log or answer."""
        return None
