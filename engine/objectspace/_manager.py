"""ObjectSpaceManager: creates spaces, gives out their Guids, routes their messages.

A message from an object goes to the manager, which either queues it for a
space of this manager (delivered at the start of the next tick, whoever
the sender) or hands it to ``outbound`` (the hosting module's ``send``) for
everything else: modules, other nodes.

The host drives it once per tick: :meth:`begin_tick` delivers last tick's
local messages, :meth:`tick_objects` runs ``on_tick``, and :meth:`end_tick`
applies the objects and spaces added or removed during the tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from engine.guid import GuidServer, format_guid, node_of, space_of
from engine.objectspace._space import ObjectSpace

log = logging.getLogger("spenefett.objectspace")

S = TypeVar("S", bound=ObjectSpace)


class ObjectSpaceManager:
    """All ObjectSpaces of one host on one node."""

    def __init__(
        self,
        node_id: int,
        outbound: Callable[[Any], None],
        *,
        guid_server: GuidServer | None = None,
        on_space_created: Callable[[ObjectSpace], None] | None = None,
        on_space_destroyed: Callable[[ObjectSpace], None] | None = None,
    ):
        self.node_id = node_id
        self.guid_server = guid_server or GuidServer(node_id)
        self._outbound = outbound
        self._spaces: dict[int, ObjectSpace] = {}
        self._local: list[Any] = []
        self._changed_spaces: dict[int, ObjectSpace] = {}
        self._destroying: list[ObjectSpace] = []
        self._on_created = on_space_created
        self._on_destroyed = on_space_destroyed
        self.dead_letters = 0
        self.errors = 0
        self.tick = 0

    # -- spaces -----------------------------------------------------------------------

    def create_space(self, space_class: Callable[[ObjectSpaceManager, int], S] = ObjectSpace) -> S:
        """A new space, addressable at once (its objects join at the tick boundary)."""
        space_id = self.guid_server.allocate_space()
        space = space_class(self, space_id)
        self._spaces[space_id] = space
        if self._on_created is not None:
            self._on_created(space)
        return space

    def destroy_space(self, space: ObjectSpace) -> None:
        """Remove ``space`` and all its objects at the tick boundary."""
        if self._spaces.get(space.space_id) is not space:
            raise LookupError(f"{space!r} is not managed here")
        for obj in space:
            space.remove(obj)
        self._destroying.append(space)

    def space(self, space_id: int) -> ObjectSpace:
        return self._spaces[space_id]

    def spaces(self) -> Iterator[ObjectSpace]:
        return iter(list(self._spaces.values()))

    def __len__(self) -> int:
        return len(self._spaces)

    def object_count(self) -> int:
        return sum(len(s) for s in self._spaces.values())

    # -- messages ---------------------------------------------------------------------

    def send(self, message: Any) -> None:
        """Queue for a local space (next tick) or hand to the host for anything else."""
        to = message[1]
        if node_of(to) == self.node_id and space_of(to) in self._spaces:
            self._local.append(message)
        else:
            self._outbound(message)

    def deliver(self, message: Any) -> None:
        """Deliver ``message`` (from a pipe) to its space now."""
        space = self._spaces.get(space_of(message[1])) if node_of(message[1]) == self.node_id else None
        if space is None:
            self.dead_letter(message, "no such ObjectSpace here")
            return
        space.deliver(message)

    def dead_letter(self, message: Any, why: str) -> None:
        self.dead_letters += 1
        log.debug("dead letter to %s (%s): %r", format_guid(message[1]), why, message)

    # -- the tick -----------------------------------------------------------------------

    def begin_tick(self, tick: int) -> None:
        """Deliver the messages objects sent each other during the previous tick."""
        self.tick = tick
        if self._local:
            local, self._local = self._local, []
            spaces = self._spaces
            for message in local:
                space = spaces.get(space_of(message[1]))
                if space is None:
                    self.dead_letter(message, "its ObjectSpace was destroyed")
                else:
                    self._guarded(space.deliver, message)

    def tick_objects(self, tick: int) -> None:
        for space in list(self._spaces.values()):
            if space._ticking:
                self._guarded(space._tick, tick)

    def _guarded(self, work: Callable[[Any], None], arg: Any) -> None:
        """One failing object must not cost the others their messages or their tick."""
        try:
            work(arg)
        except Exception:
            self.errors += 1
            log.exception("node %d: object code failed on %r", self.node_id, arg)

    def end_tick(self) -> None:
        """Apply additions and removals made during the tick."""
        while self._changed_spaces:
            changed, self._changed_spaces = self._changed_spaces, {}
            for space in changed.values():
                space._apply_changes()
        if self._destroying:
            destroying, self._destroying = self._destroying, []
            for space in destroying:
                space.destroyed = True
                del self._spaces[space.space_id]
                self.guid_server.free_space(space.space_id)
                if self._on_destroyed is not None:
                    self._on_destroyed(space)

    def _changed(self, space: ObjectSpace) -> None:
        self._changed_spaces[space.space_id] = space
