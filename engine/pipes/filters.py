"""Pipe filters: per-message decisions on the push side of a pipe.

A filter is any callable ``f(message)`` that returns

- the message (or a rewritten copy of it) to let it through,
- ``None`` to drop it,
- ``Delay(ticks, message)`` to hold it back for ``ticks`` ticks.

A filter that never delays may also offer ``filter_many(messages) -> list``:
the messages it passes (rewritten where it rewrites), in order, exactly what
calling it on each would give. A pipe whose filters all offer it filters a
whole ``push_many`` with one call per filter instead of one per message: the
network module pushes every client message of a tick that way.

The network -> gamelogic pipe carries the filter that rejects what a client
may not send and stamps ``frm`` with the client's own Guid; the generic ones
here cover the rest.

>>> drop_pings = DropTypes([str])
>>> drop_pings("ping") is None, drop_pings(3)
(True, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs


@attrs.frozen(slots=True)
class Delay:
    """A filter's verdict: deliver ``message`` ``ticks`` ticks later than it would be."""

    ticks: int
    message: Any


class Filter(Protocol):
    def __call__(self, message: Any) -> Any: ...


class DropTypes:
    """Drops every message that is an instance of one of ``types``."""

    def __init__(self, types: Iterable[type]):
        self.types = tuple(types)

    def __call__(self, message: Any) -> Any:
        return None if isinstance(message, self.types) else message


class AllowTypes:
    """Passes only instances of ``types``; everything else is dropped."""

    def __init__(self, types: Iterable[type]):
        self.types = tuple(types)

    def __call__(self, message: Any) -> Any:
        return message if isinstance(message, self.types) else None


class DelayAll:
    """Holds every message back ``ticks`` ticks (simulated latency, lag tests)."""

    def __init__(self, ticks: int):
        if ticks < 1:
            raise ValueError(f"a delay must be at least one tick, got {ticks}")
        self.ticks = ticks

    def __call__(self, message: Any) -> Any:
        return Delay(self.ticks, message)


class Predicate:
    """Passes messages for which ``keep(message)`` is true, drops the rest."""

    def __init__(self, keep: Callable[[Any], bool]):
        self.keep = keep

    def __call__(self, message: Any) -> Any:
        return message if self.keep(message) else None
