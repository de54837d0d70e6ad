"""ObjectSpace: objects that call each other synchronously.

Inside a space, objects hold references and call methods. Across spaces
only messages go: ``lookup`` of an object in another space raises
:class:`CrossSpaceLookupError`, so the coupling stays visible in the code.

Objects added or removed while a tick runs take effect at the tick
boundary, so a loop over the space's objects never sees it change under it.

>>> from engine.objectspace import ObjectSpaceManager, GameObject
>>> manager = ObjectSpaceManager(node_id=3, outbound=lambda m: None)
>>> space = manager.create_space()
>>> thing = space.add(GameObject())
>>> space.lookup(thing.guid)
Traceback (most recent call last):
...
LookupError: 3:1:1 is not in space 3:1:0 yet: additions take effect at the tick boundary
>>> manager.end_tick()
>>> space.lookup(thing.guid) is thing
True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from engine.dispatch import Dispatching
from engine.guid import Guid, format_guid, space_guid
from engine.objectspace._object import GameObject

if TYPE_CHECKING:
    from engine.objectspace._manager import ObjectSpaceManager


class CrossSpaceLookupError(LookupError):
    """An object asked for an object of another space: send it a message instead."""


class ObjectSpace(Dispatching):
    """A set of GameObjects sharing one address space id.

    Messages addressed to object 0 of the space (the space's own Guid) go
    to the space's own ``@handles`` methods.
    """

    def __init__(self, manager: ObjectSpaceManager, space_id: int):
        self.manager = manager
        self.space_id = space_id
        self.guid: Guid = manager.guid_server.space_guid(space_id)
        self._objects: dict[int, GameObject] = {}
        self._ticking: list[GameObject] = []
        self._adding: list[GameObject] = []
        self._removing: list[GameObject] = []
        self._pending_guids: set[int] = set()
        self.destroyed = False

    # -- membership -----------------------------------------------------------------

    def add(self, obj: GameObject) -> GameObject:
        """Give ``obj`` a Guid now; it joins the space at the tick boundary."""
        if obj.guid:
            raise ValueError(f"{obj!r} already has a Guid; an object lives in one space")
        if self.destroyed:
            raise RuntimeError(f"space {format_guid(self.guid)} is destroyed")
        obj.guid = self.manager.guid_server.allocate_object(self.space_id)
        self._adding.append(obj)
        self._pending_guids.add(obj.guid)
        self.manager._changed(self)
        return obj

    def remove(self, obj: GameObject) -> None:
        """Take ``obj`` out at the tick boundary; its Guid is freed then."""
        if obj.guid not in self._objects and obj.guid not in self._pending_guids:
            raise LookupError(f"{obj!r} is not in space {format_guid(self.guid)}")
        self._removing.append(obj)
        self.manager._changed(self)

    def lookup(self, guid: int) -> GameObject:
        """The object ``guid`` of this space; another space's object raises CrossSpaceLookupError."""
        obj = self._objects.get(guid)
        if obj is not None:
            return obj
        if space_guid(guid) != self.guid:
            raise CrossSpaceLookupError(
                f"{format_guid(guid)} lives in another ObjectSpace than {format_guid(self.guid)}: "
                "objects of other spaces are reached only by message")
        if guid in self._pending_guids:
            raise LookupError(f"{format_guid(guid)} is not in space {format_guid(self.guid)} yet: "
                              "additions take effect at the tick boundary")
        raise LookupError(f"no object {format_guid(guid)} in space {format_guid(self.guid)}")

    def get(self, guid: int) -> GameObject | None:
        """Like ``lookup`` but None for a missing object of this space."""
        try:
            return self.lookup(guid)
        except CrossSpaceLookupError:
            raise
        except LookupError:
            return None

    def __iter__(self) -> Iterator[GameObject]:
        return iter(list(self._objects.values()))

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, guid: object) -> bool:
        return guid in self._objects

    # -- messages -------------------------------------------------------------------

    def send(self, message: Any) -> None:
        self.manager.send(message)

    def deliver(self, message: Any) -> None:
        """Hand ``message`` to its addressee in this space (now)."""
        to = message[1]
        if to == self.guid:
            self.dispatch(message)
            return
        obj = self._objects.get(to)
        if obj is None:
            self.dead_letter(message, "no such object")
            return
        obj.dispatch(message)

    def dead_letter(self, message: Any, why: str) -> None:
        self.manager.dead_letter(message, why)

    def unhandled(self, message: Any) -> None:
        self.dead_letter(message, "the space has no handler")

    # -- ticking (called by the manager) ---------------------------------------------

    def _tick(self, tick: int) -> None:
        for obj in self._ticking:
            if obj.space is self:
                obj.on_tick(tick)

    def _apply_changes(self) -> None:
        adding, self._adding = self._adding, []
        removing, self._removing = self._removing, []
        for obj in adding:
            self._pending_guids.discard(obj.guid)
            self._objects[obj.guid] = obj
            obj.space = self
            if type(obj).on_tick is not GameObject.on_tick:
                self._ticking.append(obj)
        for obj in adding:
            obj.on_added()
        for obj in removing:
            if self._objects.pop(obj.guid, None) is None and obj.guid not in self._pending_guids:
                continue
            self._pending_guids.discard(obj.guid)
            obj.on_removed()
            self.manager.guid_server.free_object(obj.guid)
            obj.space = None
            obj.guid = Guid(0)
        if removing:
            self._ticking = [o for o in self._ticking if o.space is self]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {format_guid(self.guid)} objects={len(self._objects)}>"
