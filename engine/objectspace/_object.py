"""GameObject: something that lives in an ObjectSpace and handles messages.

Objects in the same space call each other's methods directly (a character
and its inventory); anything else they reach only by ``send``. Handlers are
methods marked ``@handles(MessageClass)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.dispatch import Dispatching
from engine.guid import Guid, format_guid

if TYPE_CHECKING:
    from engine.objectspace._space import ObjectSpace


class GameObject(Dispatching):
    """Base of every object in an ObjectSpace.

    ``guid`` and ``space`` are set when the object is added to a space.
    Override ``on_added``/``on_removed`` for set-up and clean-up, and
    ``on_tick`` for per-tick work (called only if overridden).
    """

    def __init__(self) -> None:
        self.guid: Guid = Guid(0)
        self.space: ObjectSpace | None = None

    def send(self, message: Any) -> None:
        """Send asynchronously; delivered at the start of the next tick at the earliest."""
        if self.space is None:
            raise RuntimeError(f"{self!r} is in no ObjectSpace and cannot send")
        self.space.send(message)

    @property
    def alive(self) -> bool:
        return self.space is not None

    def on_added(self) -> None:
        """Called at the tick boundary where the object joins its space."""

    def on_removed(self) -> None:
        """Called at the tick boundary where the object leaves its space."""

    def on_tick(self, tick: int) -> None:
        """Per-tick work; only objects that override it are ticked."""

    def unhandled(self, message: Any) -> None:
        if self.space is not None:
            self.space.dead_letter(message, f"{type(self).__name__} has no handler")

    def __repr__(self) -> str:
        where = format_guid(self.guid) if self.guid else "unplaced"
        return f"<{type(self).__name__} {where}>"
