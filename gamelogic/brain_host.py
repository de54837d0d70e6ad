"""BrainHost: the AI node's module that runs NPC brains for gamelogic nodes.

A gamelogic node sends ``Perceive`` (what each of its NPCs sees) a few
times a second; the host runs each NPC's brain (by its class's ``brain``
property, :mod:`gamelogic.brains`) and answers one ``Act`` with every
decision. Memory is kept per NPC and forgotten when an NPC has not been
perceived for a minute, so a dead or removed NPC costs nothing. If this
node dies, the gamelogic node notices the silence and its NPCs stand
still; when it is back, the next ``Perceive`` brings them to life again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.dispatch import handles
from engine.guid import WellKnown
from engine.modules import Module
from gamelogic.brains import NpcView, think
from gamelogic.classes import ClassTree
from gamelogic.operations import Act, Perceive

FORGET_AFTER = 60.0


class BrainHost(Module):
    kind = "brains"
    well_known = int(WellKnown.AI)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.tree = ClassTree.load(self.settings.get("classes"))
        self._memory: dict[int, dict[str, Any]] = {}
        self._last_seen: dict[int, float] = {}
        self._brains: dict[str, str] = {}
        """Class -> its ``brain`` property (the class tree does not change while the node runs)."""
        self.thoughts = 0
        self.bad_rows = 0

    @handles(Perceive)
    def on_perceive(self, msg: Perceive) -> None:
        now = self.engine.time
        actions: list[list[Any]] = []
        for row in msg.npcs or []:
            try:
                view = NpcView.from_row(row)
            except (TypeError, ValueError, IndexError):
                self.bad_rows += 1
                continue
            brain = self._brains.get(view.cls)
            if brain is None:  # a class's brain, looked up once (defaults() copies every property)
                brain = self._brains[view.cls] = (
                    str(self.tree.defaults(view.cls).get("brain", "")) if view.cls in self.tree else "")
            memory = self._memory.setdefault(view.guid, {})
            self._last_seen[view.guid] = now
            actions += think(brain, view, memory, self.engine.rng, now)
            self.thoughts += 1
        if actions:
            self.send(Act(msg.frm, self.guid, actions=actions))

    def tick(self) -> None:
        now = self.engine.time
        if self.engine.tick % 200 == 0:
            for guid in [g for g, t in self._last_seen.items() if now - t > FORGET_AFTER]:
                self._last_seen.pop(guid, None)
                self._memory.pop(guid, None)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(npcs=len(self._memory), thoughts=self.thoughts, bad_rows=self.bad_rows)
        return out
