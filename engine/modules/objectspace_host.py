"""ObjectSpaceHost: the module that hosts ObjectSpaces (the gamelogic host).

It owns an :class:`~engine.objectspace.ObjectSpaceManager`, tells the engine
which space ids it hosts so ``send`` routes their messages here, and drives
the manager each tick. Game code subclasses it (or adds spaces to it) and
never touches the pipes directly.

Within a tick the order is: messages from pipes (handed to their objects as
the engine drains them), then messages objects sent each other last tick,
then ``on_tick`` of ticking objects, then additions and removals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.guid import WellKnown
from engine.modules._module import Module
from engine.objectspace import ObjectSpace, ObjectSpaceManager


class ObjectSpaceHost(Module):
    kind = "objectspace_host"
    well_known = int(WellKnown.GAMELOGIC)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self._spaces: ObjectSpaceManager | None = None

    @property
    def spaces(self) -> ObjectSpaceManager:
        """The manager of this host's spaces (exists once the module is in an engine)."""
        if self._spaces is None:
            self._spaces = ObjectSpaceManager(
                self.node_id,
                outbound=self.send,
                guid_server=self.engine.guids,
                on_space_created=self._space_created,
                on_space_destroyed=self._space_destroyed,
            )
        return self._spaces

    def _space_created(self, space: ObjectSpace) -> None:
        self.engine.host_space(space.space_id, self)

    def _space_destroyed(self, space: ObjectSpace) -> None:
        self.engine.unhost_space(space.space_id)

    def receive(self, messages: list[Any]) -> None:
        """Messages from pipes: those for a space go to it; the rest to this module's handlers."""
        own = self.guid
        self.spaces.tick = self.now_tick
        deliver = self.spaces.deliver
        plain: list[Any] = []
        for message in messages:
            if message[1] == own:
                plain.append(message)
                continue
            try:
                deliver(message)
            except Exception:
                self.errors += 1
                self.log.exception("%s: delivering %s failed", self.name, type(message).__name__)
        if plain:
            super().receive(plain)

    def tick(self) -> None:
        tick = self.now_tick
        spaces = self.spaces
        spaces.begin_tick(tick)
        spaces.tick_objects(tick)
        self.on_tick()
        spaces.end_tick()

    def on_tick(self) -> None:
        """Host-level per-tick work for subclasses, before the tick boundary."""

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["objectspaces"] = len(self.spaces)
        out["objects"] = self.spaces.object_count()
        out["dead_letters"] = self.spaces.dead_letters
        return out
