"""Edit commands: every change a designer makes is one object that can do and undo itself.

A command changes a :class:`~gamelogic.worldfile.WorldFile` in ``apply`` and
puts it back exactly in ``revert``; the :class:`~worldbuilder.History` keeps
them in order, so undo and redo work for every action without the document
knowing what each one did::

    cmd = MoveEntities({"meadow.rock.1": ((320.0, 280.0), (324.0, 280.0))})
    cmd.apply(world)     # the rock is at (324, 280)
    cmd.revert(world)    # and back at (320, 280)

Commands never check the rules: the :class:`~worldbuilder.Document` does
that before it builds one, and validation reports what is still wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from gamelogic.worldfile import WorldEntity, WorldFile

UNSET: Any = object()
"""A property value meaning "no override": the class's inherited value applies."""


class Command:
    """One undoable change; ``touched`` are the ids to select after doing or undoing it."""

    label = "edit"

    def apply(self, world: WorldFile) -> None:
        raise NotImplementedError

    def revert(self, world: WorldFile) -> None:
        raise NotImplementedError

    def touched(self, undone: bool) -> list[str]:
        """The entity ids that exist and matter after ``apply`` (``undone`` False) or ``revert``."""
        return []


def _find(world: WorldFile, entity_id: str) -> WorldEntity:
    for e in world.entities:
        if e.id == entity_id:
            return e
    raise KeyError(f"no entity {entity_id!r}")


@attrs.define
class AddEntities(Command):
    """Place new entities (placing, duplicating, pasting)."""

    entities: list[WorldEntity]
    label: str = "place"

    def apply(self, world: WorldFile) -> None:
        world.entities.extend(copy.deepcopy(self.entities))

    def revert(self, world: WorldFile) -> None:
        ids = {e.id for e in self.entities}
        world.entities[:] = [e for e in world.entities if e.id not in ids]

    def touched(self, undone: bool) -> list[str]:
        return [] if undone else [e.id for e in self.entities]


@attrs.define
class DeleteEntities(Command):
    """Remove entities; undo puts each back where it was in the list (so saves diff the same)."""

    ids: list[str]
    label: str = "delete"
    _removed: list[tuple[int, WorldEntity]] = attrs.field(factory=list, init=False)

    def apply(self, world: WorldFile) -> None:
        wanted = set(self.ids)
        self._removed = [(i, e) for i, e in enumerate(world.entities) if e.id in wanted]
        world.entities[:] = [e for e in world.entities if e.id not in wanted]

    def revert(self, world: WorldFile) -> None:
        for index, entity in self._removed:
            world.entities.insert(index, entity)
        self._removed = []

    def touched(self, undone: bool) -> list[str]:
        return list(self.ids) if undone else []


@attrs.define
class MoveEntities(Command):
    """Put entities at new positions: ``moves`` maps an id to (old position, new position)."""

    moves: dict[str, tuple[tuple[float, float], tuple[float, float]]]
    label: str = "move"

    def apply(self, world: WorldFile) -> None:
        for entity_id, (_old, new) in self.moves.items():
            _find(world, entity_id).pos = new

    def revert(self, world: WorldFile) -> None:
        for entity_id, (old, _new) in self.moves.items():
            _find(world, entity_id).pos = old

    def touched(self, undone: bool) -> list[str]:
        return list(self.moves)


@attrs.define
class RotateEntities(Command):
    """Set entities' yaw (degrees): ``turns`` maps an id to (old yaw, new yaw)."""

    turns: dict[str, tuple[float, float]]
    label: str = "rotate"

    def apply(self, world: WorldFile) -> None:
        for entity_id, (_old, new) in self.turns.items():
            _find(world, entity_id).yaw = new

    def revert(self, world: WorldFile) -> None:
        for entity_id, (old, _new) in self.turns.items():
            _find(world, entity_id).yaw = old

    def touched(self, undone: bool) -> list[str]:
        return list(self.turns)


@attrs.define
class SetProperties(Command):
    """Override (or, with :data:`UNSET`, stop overriding) properties of entities.

    ``changes`` maps an id to ``{property: (old, new)}``; old or new may be UNSET.
    """

    changes: dict[str, dict[str, tuple[Any, Any]]]
    label: str = "set property"

    def apply(self, world: WorldFile) -> None:
        self._put(world, 1)

    def revert(self, world: WorldFile) -> None:
        self._put(world, 0)

    def _put(self, world: WorldFile, which: int) -> None:
        for entity_id, props in self.changes.items():
            entity = _find(world, entity_id)
            for key, pair in props.items():
                value = pair[which]
                if value is UNSET:
                    entity.props.pop(key, None)
                else:
                    entity.props[key] = copy.deepcopy(value)

    def touched(self, undone: bool) -> list[str]:
        return list(self.changes)


@attrs.define
class Batch(Command):
    """Several commands as one undo step (exporting live edits, a multi-field change)."""

    commands: list[Command]
    label: str = "edits"

    def apply(self, world: WorldFile) -> None:
        for c in self.commands:
            c.apply(world)

    def revert(self, world: WorldFile) -> None:
        for c in reversed(self.commands):
            c.revert(world)

    def touched(self, undone: bool) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.commands:
            seen.update(dict.fromkeys(c.touched(undone)))
        return list(seen)


class History:
    """Done commands and undone ones; a new command forgets what was undone."""

    def __init__(self) -> None:
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._clean_mark: int | None = 0  # len(_done) when last saved; None: that state is gone

    def do(self, command: Command, world: WorldFile) -> None:
        command.apply(world)
        if self._clean_mark is not None and self._clean_mark > len(self._done):
            self._clean_mark = None  # the saved state was in the undone branch we now drop
        self._done.append(command)
        self._undone.clear()

    def undo(self, world: WorldFile) -> Command | None:
        if not self._done:
            return None
        command = self._done.pop()
        command.revert(world)
        self._undone.append(command)
        return command

    def redo(self, world: WorldFile) -> Command | None:
        if not self._undone:
            return None
        command = self._undone.pop()
        command.apply(world)
        self._done.append(command)
        return command

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def next_undo(self) -> str | None:
        return self._done[-1].label if self._done else None

    def next_redo(self) -> str | None:
        return self._undone[-1].label if self._undone else None

    def mark_clean(self) -> None:
        self._clean_mark = len(self._done)

    @property
    def clean(self) -> bool:
        return self._clean_mark == len(self._done)


def moves_by(world: WorldFile, ids: Iterable[str], dx: float, dy: float) -> MoveEntities:
    """A MoveEntities shifting each of ``ids`` by (dx, dy)."""
    out = {}
    for entity_id in ids:
        x, y = _find(world, entity_id).pos
        out[entity_id] = ((x, y), (x + dx, y + dy))
    return MoveEntities(out)


def property_changes(entity: WorldEntity, new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (old, new)}`` for the keys of ``new`` whose override would change."""
    out = {}
    for key, value in new.items():
        old = entity.props.get(key, UNSET)
        if old is UNSET and value is UNSET:
            continue
        if old is not UNSET and value is not UNSET and old == value and type(old) is type(value):
            continue
        out[key] = (copy.deepcopy(old) if old is not UNSET else UNSET, value)
    return out
