"""The document a designer edits: a world file, the class tree, a selection and the undo history.

No window and no files here (the app reads and writes them): everything a
designer does is a method that checks its input, builds a command and runs
it through the history, so it can be undone, and any refusal is an
:class:`EditError` whose message the app shows::

    doc = Document.from_text(DEMO_WORLD.read_text(), ClassTree.load(), path=DEMO_WORLD)
    doc.place("pig", (300.0, 310.0))         # 'pig', now selected
    doc.move_selection(4.0, 0.0)
    doc.undo(); doc.undo()                   # as it was
    doc.dirty                                # False: nothing to save
    doc.problems()                           # load problems + validation, each with its line

The file itself is never touched until the designer saves: the app asks
:meth:`Document.save_warnings` first and writes :meth:`Document.text`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gamelogic.classes import ClassTree
from gamelogic.worldfile import Problem, WorldEntity, WorldFile, dumps_world, loads_world, validate
from worldbuilder._commands import (
    UNSET,
    AddEntities,
    Command,
    DeleteEntities,
    History,
    MoveEntities,
    RotateEntities,
    SetProperties,
    moves_by,
    property_changes,
)
from worldbuilder._fields import parse_field

_FIXED = ("id", "class", "pos", "yaw")
"""Entity keys that are not class properties (the world file's own)."""


class EditError(ValueError):
    """A designer's action that cannot be done; the message says why, for the status line."""


class Document:
    """A world being edited; see the module docstring."""

    def __init__(self, world: WorldFile, tree: ClassTree, *, path: Path | None = None,
                 load_problems: Sequence[Problem] = (), protected: bool = False):
        self.world = world
        self.tree = tree
        self.path = path
        self.protected = protected
        """Saving to ``path`` needs an explicit choice (the demo world that ships with the game)."""
        self.load_problems = list(load_problems)
        self.selection: list[str] = []
        self.history = History()
        self.version = 0
        """Goes up with every change of the world or the selection: views redraw when it moves."""
        self.revision = 0
        """Goes up with every change of the world only (not of the selection)."""
        self._checked: tuple[int, list[Problem]] | None = None

    @classmethod
    def from_text(cls, text: str, tree: ClassTree, *, path: Path | None = None,
                  protected: bool = False) -> Document:
        """A document from a world file's text: what reads, plus every problem met reading it."""
        world, problems = loads_world(text)
        return cls(world, tree, path=path, load_problems=problems, protected=protected)

    # -- state ---------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Whether the world differs from what was opened or last saved."""
        return not self.history.clean

    def text(self) -> str:
        """The world file's text as it would be saved."""
        return dumps_world(self.world)

    def entity(self, entity_id: str) -> WorldEntity | None:
        return self.world.entity(entity_id)

    def props_of(self, entity: WorldEntity) -> dict[str, Any]:
        """The entity's full properties; for an unknown class, only its own overrides."""
        if entity.cls in self.tree:
            return self.tree.properties(entity.cls, entity.props)
        return dict(entity.props)

    def problems(self) -> list[Problem]:
        """Problems met reading the file (they stay until it is read again) and validation now."""
        if self._checked is None or self._checked[0] != self.revision:
            try:
                found = validate(self.world, self.tree)
            except Exception as exc:  # a rule that trips over a bad value must not take the editor down
                found = [Problem(0, f"validation stopped: {type(exc).__name__}: {exc}")]
            self._checked = (self.revision, found)
        return self.load_problems + self._checked[1]

    def problem_ids(self) -> set[str]:
        return {p.entity for p in self.problems() if p.entity}

    # -- geometry --------------------------------------------------------------------------------

    def footprint(self, entity: WorldEntity) -> tuple[float, float, float, float]:
        """The rectangle an entity covers on the map: its ``size``, else a square around ``radius``."""
        x, y = entity.pos
        props = self.props_of(entity)
        size = props.get("size")
        if isinstance(size, list) and len(size) == 2 and all(_finite(v) for v in size):
            hx, hy = abs(size[0]) / 2, abs(size[1]) / 2
        else:
            radius = props.get("radius", 0.5)
            hx = hy = abs(radius) if _finite(radius) else 0.5
        return x - hx, y - hy, x + hx, y + hy

    def pick(self, x: float, y: float, tolerance: float = 0.0) -> str | None:
        """The entity under (x, y): the smallest footprint that holds it, within ``tolerance`` metres.

        Smallest first, so a door or a person inside a building is picked before the building.
        """
        best: tuple[float, str] | None = None
        for e in self.world.entities:
            x0, y0, x1, y1 = self.footprint(e)
            if x0 - tolerance <= x <= x1 + tolerance and y0 - tolerance <= y <= y1 + tolerance:
                area = (x1 - x0) * (y1 - y0)
                if best is None or area < best[0]:
                    best = (area, e.id)
        return best[1] if best else None

    def in_box(self, x0: float, y0: float, x1: float, y1: float) -> list[str]:
        """Ids of entities whose position lies in the box (corners in any order)."""
        lo_x, hi_x = sorted((x0, x1))
        lo_y, hi_y = sorted((y0, y1))
        return [e.id for e in self.world.entities if lo_x <= e.pos[0] <= hi_x and lo_y <= e.pos[1] <= hi_y]

    # -- selection --------------------------------------------------------------------------------

    def select(self, ids: Iterable[str], *, add: bool = False) -> None:
        known = {e.id for e in self.world.entities}
        chosen = [i for i in dict.fromkeys(ids) if i in known]
        if add:
            chosen = self.selection + [i for i in chosen if i not in self.selection]
        self._set_selection(chosen)

    def toggle(self, entity_id: str) -> None:
        if entity_id in self.selection:
            self._set_selection([i for i in self.selection if i != entity_id])
        else:
            self.select([entity_id], add=True)

    def clear_selection(self) -> None:
        self._set_selection([])

    def select_all(self) -> None:
        self._set_selection([e.id for e in self.world.entities])

    def selected(self) -> list[WorldEntity]:
        return [e for i in self.selection if (e := self.world.entity(i)) is not None]

    def _set_selection(self, ids: list[str]) -> None:
        if ids != self.selection:
            self.selection = ids
            self.version += 1

    # -- editing ----------------------------------------------------------------------------------

    def execute(self, command: Command) -> None:
        """Run a command through the history (undoable) and select what it touched."""
        self.history.do(command, self.world)
        self._after(command, undone=False)

    def undo(self) -> str | None:
        """Undo the last command; its label, or None if there was nothing to undo."""
        command = self.history.undo(self.world)
        if command is not None:
            self._after(command, undone=True)
        return command.label if command else None

    def redo(self) -> str | None:
        command = self.history.redo(self.world)
        if command is not None:
            self._after(command, undone=False)
        return command.label if command else None

    def _after(self, command: Command, *, undone: bool) -> None:
        self.version += 1
        self.revision += 1
        known = {e.id for e in self.world.entities}
        self.selection = [i for i in command.touched(undone) if i in known]

    def place(self, cls: str, pos: tuple[float, float], props: dict[str, Any] | None = None, *,
              yaw: float = 0.0, entity_id: str | None = None) -> str:
        """Place a new entity of class ``cls``; returns its id (``cls``, ``cls.2``, ...)."""
        if cls not in self.tree:
            raise EditError(f"there is no class {cls!r}")
        props = dict(props or {})
        bad = self.tree.check_properties(cls, props)
        if bad:
            raise EditError("; ".join(bad))
        self._check_pos(pos)
        if entity_id is None:
            entity_id = self.world.new_id(cls)
        elif self.world.entity(entity_id) is not None:
            raise EditError(f"the id {entity_id!r} is taken")
        entity = WorldEntity(entity_id, cls, (float(pos[0]), float(pos[1])), float(yaw) % 360.0, props)
        self.execute(AddEntities([entity], label=f"place {cls}"))
        return entity_id

    def move_selection(self, dx: float, dy: float) -> None:
        """Shift every selected entity by (dx, dy) metres, as one undo step."""
        if not self.selection or (dx == 0 and dy == 0):
            return
        self._check_pos((dx, dy))
        self.execute(moves_by(self.world, self.selection, dx, dy))

    def move_to(self, entity_id: str, pos: tuple[float, float]) -> None:
        entity = self._get(entity_id)
        self._check_pos(pos)
        new = (float(pos[0]), float(pos[1]))
        if new != entity.pos:
            self.execute(MoveEntities({entity_id: (entity.pos, new)}))

    def rotate_selection(self, degrees: float) -> None:
        """Turn every selected entity by ``degrees`` (yaw kept in 0..360)."""
        if not self.selection or not _finite(degrees):
            return
        turns = {e.id: (e.yaw, (e.yaw + degrees) % 360.0) for e in self.selected()}
        self.execute(RotateEntities(turns))

    def set_yaw(self, entity_id: str, yaw: float) -> None:
        entity = self._get(entity_id)
        if not _finite(yaw):
            raise EditError(f"yaw must be a number, got {yaw!r}")
        self.execute(RotateEntities({entity_id: (entity.yaw, float(yaw) % 360.0)}))

    def duplicate_selection(self, offset: tuple[float, float] = (2.0, -2.0)) -> list[str]:
        """Copies of the selection, shifted by ``offset``, with new ids; the copies become the selection."""
        copies = []
        taken = {e.id for e in self.world.entities}
        for e in self.selected():
            new_id = _fresh(e.id, taken)
            taken.add(new_id)
            copies.append(WorldEntity(new_id, e.cls, (e.pos[0] + offset[0], e.pos[1] + offset[1]), e.yaw,
                                      copy.deepcopy(e.props)))
        if copies:
            self.execute(AddEntities(copies, label="duplicate"))
        return [c.id for c in copies]

    def delete_selection(self) -> None:
        if self.selection:
            self.execute(DeleteEntities(list(self.selection)))

    def set_property(self, ids: Sequence[str], key: str, text: str) -> None:
        """What a designer typed into the inspector for ``key``, checked against each class's type.

        ``pos`` and ``yaw`` are the world file's own keys and move or turn the entity.
        """
        entities = [self._get(i) for i in ids]
        if not entities:
            raise EditError("nothing is selected")
        if key == "pos":
            value, error = parse_field([0.0, 0.0], text)
            if error:
                raise EditError(f"pos {error}")
            if len(entities) > 1:
                raise EditError("select one entity to type a position")
            self.move_to(entities[0].id, (value[0], value[1]))
            return
        if key == "yaw":
            value, error = parse_field(0.0, text)
            if error:
                raise EditError(f"yaw {error}")
            self.execute(RotateEntities({e.id: (e.yaw, value % 360.0) for e in entities}))
            return
        if key in _FIXED:
            raise EditError(f"{key} cannot be changed here")
        values = {}
        for e in entities:
            if e.cls not in self.tree:
                raise EditError(f"{e.id}: unknown class {e.cls!r}; fix the class first")
            defaults = self.tree.defaults(e.cls)
            if key not in defaults:
                raise EditError(f"{e.cls} has no property {key!r}")
            value, error = parse_field(defaults[key], text)
            if error:
                raise EditError(f"{key} {error}")
            values[e.id] = value
        self.set_values({i: {key: v} for i, v in values.items()})

    def reset_property(self, ids: Sequence[str], key: str) -> None:
        """Stop overriding ``key``: the class's inherited value applies again."""
        self.set_values({i: {key: UNSET} for i in ids})

    def set_values(self, changes: dict[str, dict[str, Any]]) -> None:
        """Set overrides (already typed values, or UNSET) as one undo step; type-checked."""
        out = {}
        for entity_id, props in changes.items():
            entity = self._get(entity_id)
            checked = {k: v for k, v in props.items() if v is not UNSET}
            if entity.cls in self.tree:
                bad = self.tree.check_properties(entity.cls, checked)
                if bad:
                    raise EditError("; ".join(bad))
            diff = property_changes(entity, props)
            if diff:
                out[entity_id] = diff
        if out:
            self.execute(SetProperties(out))

    # -- saving ---------------------------------------------------------------------------------

    def save_warnings(self, path: Path) -> list[str]:
        """What the designer should confirm before the world is written to ``path``.

        Empty means save at once. The app asks again after showing these.
        """
        out = []
        if self.protected and self.path is not None and Path(path) == self.path:
            out.append("this is the demo world that ships with the game; save it under another name "
                       "(Save As), or save again to overwrite it")
        if self.load_problems and self.path is not None and Path(path) == self.path:
            out.append(f"the file had {len(self.load_problems)} problem(s) when opened: blocks that "
                       "could not be read will be dropped from it")
        found = len(self.problems()) - len(self.load_problems)
        if found:
            out.append(f"the world has {found} validation problem(s)")
        return out

    def saved(self, path: Path) -> None:
        """Call after the text was written to ``path``: the document is clean and lives there now."""
        if self.path is None or Path(path) != self.path:
            self.protected = False
        self.load_problems = []  # the file is now what was written, not what was read
        self.path = Path(path)
        self.history.mark_clean()
        self.version += 1
        self.revision += 1

    # -- internals --------------------------------------------------------------------------------

    def _get(self, entity_id: str) -> WorldEntity:
        entity = self.world.entity(entity_id)
        if entity is None:
            raise EditError(f"there is no entity {entity_id!r}")
        return entity

    @staticmethod
    def _check_pos(pos: Sequence[float]) -> None:
        if len(pos) != 2 or not all(_finite(v) for v in pos):
            raise EditError(f"a position must be two numbers, got {pos!r}")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fresh(entity_id: str, taken: set[str]) -> str:
    """``inn`` -> ``inn.2`` (or the next free number); ``inn.2`` -> ``inn.3``."""
    stem, _, tail = entity_id.rpartition(".")
    if not (stem and tail.isdigit()):
        stem, tail, n = entity_id, "", 2
    else:
        n = int(tail) + 1
    width = len(tail)  # forest.tree.07 -> forest.tree.08
    while f"{stem}.{n:0{width}d}" in taken:
        n += 1
    return f"{stem}.{n:0{width}d}"
