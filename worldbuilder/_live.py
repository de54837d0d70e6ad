"""Live mode without sockets: what a designer sees of a running world, and the edits in flight.

:class:`LiveWorld` is fed the server's perceptions (``Sight``, ``Moves``,
``Set``, ``Disappear``, ``Info``) and hands back the operations to send for
each edit (``Create``, ``Set``, ``Delete``, each with a new ``serialno``).
An edit stays *pending* until an ``Info`` whose ``refno`` is its serialno
says ``ok ...`` (done) or ``refused: ...``. If the connection is lost, edits
not yet answered go back to *queued*: still shown, and sent again by
:meth:`LiveWorld.attach` when a connection is back, or exported::

    live = LiveWorld()
    live.attach(avatar)                            # connected: nothing queued to resend
    op = live.create("spawner", (300.0, 300.0), {"spawns": "wolf"}, "meadow.wolves")
    # ... send op; later the server answers:
    live.receive(Info(refno=op.serialno, text="ok created"))
    live.edits[-1].state                           # EditState.DONE

Done edits of entities that come from the world file (a world id) can be
applied to a :class:`~worldbuilder.Document` as one undo step:
:meth:`LiveWorld.export_to`.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable
from typing import Any

import attrs

from gamelogic.operations import Create, Delete, Disappear, Info, Moves, Set, Sight, unpack_moves
from gamelogic.worldfile import WorldEntity
from worldbuilder._commands import (
    UNSET,
    AddEntities,
    Batch,
    Command,
    DeleteEntities,
    MoveEntities,
    RotateEntities,
    SetProperties,
    property_changes,
)
from worldbuilder._document import Document

_LOG_LINES = 50


class EditState(enum.Enum):
    QUEUED = "queued"  # not sent, or sent on a connection that was lost before the answer
    PENDING = "pending"  # sent, no answer yet
    DONE = "done"
    REFUSED = "refused"


@attrs.define
class LiveEntity:
    """An entity of the running world as the server describes it (``Sight.entity``)."""

    guid: int
    id: str
    cls: str
    name: str = ""
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw: float = 0.0
    health: int = 0
    max_health: int = 0
    props: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class LiveEdit:
    """One edit sent (or to send) to the running world."""

    serialno: int
    kind: str  # "create", "set" or "delete"
    world_id: str  # the entity's world-file id; "" for one that has none (a player, a spawned NPC)
    target: int = 0  # the entity's Guid (set, delete); 0 for create
    cls: str = ""
    props: dict[str, Any] = attrs.field(factory=dict)
    """create: pos and overrides; set: the changed properties (``pos``, ``yaw`` included)."""
    state: EditState = EditState.QUEUED
    reason: str = ""
    exported: bool = False

    def describe(self) -> str:
        what = self.world_id or (f"#{self.target}" if self.target else self.cls)
        if self.kind == "create":
            text = f"create {self.cls} {what}"
        elif self.kind == "set":
            text = f"set {what}: " + ", ".join(f"{k}={v}" for k, v in self.props.items())
        else:
            text = f"delete {what}"
        return f"[{self.state.value}] {text}" + (f" ({self.reason})" if self.reason else "")


def _triple(value: Any) -> tuple[float, float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) in (2, 3) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return (float(value[0]), float(value[1]), float(value[2]) if len(value) == 3 else 0.0)
    return None


class LiveWorld:
    """See the module docstring."""

    def __init__(self) -> None:
        self.entities: dict[int, LiveEntity] = {}
        self.edits: list[LiveEdit] = []
        self.avatar = 0
        self.connected = False
        self.log: list[str] = []
        """Lines of text from the server that answer no edit (newest last)."""
        self.version = 0
        """Goes up with every change: the map redraws when it moves."""
        self._serial = 0

    # -- connection --------------------------------------------------------------------------

    def attach(self, avatar: int) -> list[Any]:
        """A connection is up (as ``avatar``): the operations to send again for queued edits.

        The view is emptied: the server sends a Sight of everything anew.
        """
        self.avatar = avatar
        self.connected = True
        self.entities.clear()
        self.version += 1
        return [self._op(e) for e in self.edits if e.state is EditState.QUEUED]

    def detach(self, reason: str) -> None:
        """The connection is gone: unanswered edits are queued again, the last view stays shown."""
        self.connected = False
        for e in self.edits:
            if e.state is EditState.PENDING:
                e.state = EditState.QUEUED
        self._note(f"connection lost: {reason}" if reason else "connection lost")

    # -- edits --------------------------------------------------------------------------------

    def create(self, cls: str, pos: tuple[float, float], props: dict[str, Any] | None = None,
               world_id: str = "") -> Any:
        """Place an entity; the operation to send now, or None while not connected (queued)."""
        body = {"pos": [float(pos[0]), float(pos[1])], **copy.deepcopy(props or {})}
        return self._new(LiveEdit(0, "create", world_id, 0, cls, body))

    def set(self, guid: int, props: dict[str, Any]) -> Any:
        """Change properties of a live entity (``pos`` = [x, y] moves it, ``yaw`` turns it)."""
        entity = self.entities.get(guid)
        return self._new(LiveEdit(0, "set", entity.id if entity else "", guid,
                                  entity.cls if entity else "", copy.deepcopy(props)))

    def delete(self, guid: int) -> Any:
        entity = self.entities.get(guid)
        return self._new(LiveEdit(0, "delete", entity.id if entity else "", guid,
                                  entity.cls if entity else ""))

    def open_edits(self) -> list[LiveEdit]:
        """Edits not answered yet (queued or pending): what a lost connection must not lose."""
        return [e for e in self.edits if e.state in (EditState.QUEUED, EditState.PENDING)]

    def _new(self, edit: LiveEdit) -> Any:
        self._serial += 1
        edit.serialno = self._serial
        self.edits.append(edit)
        self.version += 1
        return self._op(edit) if self.connected else None

    def _op(self, edit: LiveEdit) -> Any:
        """The operation for ``edit`` (marking it pending); a resent set/delete finds its entity again."""
        edit.state = EditState.PENDING
        if edit.kind == "create":
            body: dict[str, Any] = {"class": edit.cls, "pos": edit.props["pos"],
                                    "props": {k: v for k, v in edit.props.items() if k != "pos"}}
            if edit.world_id:
                body["id"] = edit.world_id
            return Create(to=self.avatar, frm=self.avatar, serialno=edit.serialno, entity=body)
        if edit.world_id and edit.target not in self.entities:
            found = self.by_world_id(edit.world_id)
            if found is not None:
                edit.target = found.guid
        if edit.kind == "set":
            return Set(to=self.avatar, frm=self.avatar, serialno=edit.serialno, target=edit.target,
                       props=copy.deepcopy(edit.props))
        return Delete(to=self.avatar, frm=self.avatar, serialno=edit.serialno, target=edit.target)

    # -- what the server says ------------------------------------------------------------------

    def receive(self, message: Any) -> None:
        """One message from the world link; anything not understood is ignored."""
        if isinstance(message, Sight):
            self._sight(message.entity)
        elif isinstance(message, Moves):
            try:
                rows = unpack_moves(message.updates)
            except (TypeError, ValueError):  # not whole packed rows: ignored, as any malformed perception
                rows = []
            for row in rows:
                self._moved(row)
        elif isinstance(message, Set):
            self._changed(message.target, message.props)
        elif isinstance(message, Disappear):
            if self.entities.pop(message.target, None) is not None:
                self.version += 1
        elif isinstance(message, Info):
            self._info(message.refno, message.text)

    def _sight(self, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("guid"), int):
            return
        pos = _triple(data.get("pos")) or (0.0, 0.0, 0.0)
        props = data.get("props")
        self.entities[data["guid"]] = LiveEntity(
            data["guid"], str(data.get("id") or ""), str(data.get("class") or "?"),
            str(data.get("name") or ""),
            pos, _float(data.get("yaw")), _int(data.get("health")), _int(data.get("max_health")),
            dict(props) if isinstance(props, dict) else {})
        self.version += 1

    def _moved(self, row: Any) -> None:
        if not (isinstance(row, (list, tuple)) and len(row) >= 4):
            return
        entity = self.entities.get(row[0])
        pos = _triple(row[1:4])
        if entity is not None and pos is not None:
            entity.pos = pos
            if len(row) >= 5:
                entity.yaw = _float(row[4])
            self.version += 1

    def _changed(self, guid: int, props: Any) -> None:
        entity = self.entities.get(guid)
        if entity is None or not isinstance(props, dict):
            return
        for key, value in props.items():
            if key == "pos" and (pos := _triple(value)) is not None:
                entity.pos = pos
            elif key == "yaw":
                entity.yaw = _float(value)
            elif key in ("health", "max_health"):
                setattr(entity, key, _int(value))
            elif key == "name":
                entity.name = str(value)
            else:
                entity.props[key] = value
        self.version += 1

    def _info(self, refno: int, text: str) -> None:
        edit = next((e for e in self.edits if e.serialno == refno and refno), None)
        if edit is None or edit.state is not EditState.PENDING:
            self._note(text)
            return
        if text.startswith("ok"):
            edit.state = EditState.DONE
            words = text.split()
            if edit.kind == "create" and words[:2] == ["ok:", "created"] and len(words) > 2:
                edit.world_id = words[2]  # the server may have renamed it (the id was taken)
        else:
            edit.state = EditState.REFUSED
            edit.reason = text.split(":", 1)[1].strip() if text.startswith("refused:") else text
        self.version += 1

    def _note(self, text: str) -> None:
        self.log = (self.log + [text])[-_LOG_LINES:]
        self.version += 1

    # -- reading -------------------------------------------------------------------------------

    def by_world_id(self, world_id: str) -> LiveEntity | None:
        return next((e for e in self.entities.values() if e.id == world_id), None) if world_id else None

    def pick(self, x: float, y: float, tolerance: float) -> LiveEntity | None:
        """The live entity nearest (x, y) within ``tolerance`` metres."""
        best: tuple[float, LiveEntity] | None = None
        for e in self.entities.values():
            d = (e.pos[0] - x) ** 2 + (e.pos[1] - y) ** 2
            if d <= tolerance ** 2 and (best is None or d < best[0]):
                best = (d, e)
        return best[1] if best else None

    def taken_ids(self) -> set[str]:
        return {e.id for e in self.entities.values() if e.id} | {e.world_id for e in self.edits if e.world_id}

    # -- back to the world file -----------------------------------------------------------------

    def export_to(self, doc: Document, *, include_open: bool = True) -> tuple[int, list[str]]:
        """Apply edits not yet exported to ``doc`` as one undo step: (edits applied, notes on the rest).

        Done edits are applied, and queued or pending ones too if ``include_open`` (an edit a lost
        connection left unanswered is then kept in the file, not lost). Refused edits never are.
        Edits of entities without a world id (players, spawned NPCs) are not world-file matters.
        """
        wanted = {EditState.DONE} | ({EditState.QUEUED, EditState.PENDING} if include_open else set())
        commands: list[Command] = []
        notes: list[str] = []
        used: list[LiveEdit] = []
        try:
            for edit in self.edits:
                if edit.exported or edit.state not in wanted:
                    continue
                try:
                    command = self._export_one(edit, doc)
                except (KeyError, ValueError, TypeError) as exc:
                    notes.append(f"{edit.describe()}: {exc}")
                    continue
                if command is None:
                    notes.append(f"{edit.describe()}: not a world-file entity")
                    edit.exported = True  # nothing of it ever goes in the file: said once
                    continue
                command.apply(doc.world)  # later edits see this one's result
                commands.append(command)
                used.append(edit)
        finally:
            for command in reversed(commands):
                command.revert(doc.world)
        if commands:
            doc.execute(Batch(commands, label="export live edits"))
        for edit in used:
            edit.exported = True
        self.version += 1
        return len(used), notes

    def _export_one(self, edit: LiveEdit, doc: Document) -> Command | None:
        if not edit.world_id:
            return None
        entity = doc.world.entity(edit.world_id)
        if edit.kind == "create":
            if entity is not None:
                raise ValueError(f"{edit.world_id} is already in the file")
            props = {k: copy.deepcopy(v) for k, v in edit.props.items() if k not in ("pos", "yaw")}
            bad = doc.tree.check_properties(edit.cls, props)
            if bad:
                raise ValueError("; ".join(bad))
            pos = edit.props["pos"]
            return AddEntities([WorldEntity(edit.world_id, edit.cls, (float(pos[0]), float(pos[1])),
                                            _float(edit.props.get("yaw")) % 360.0, props)])
        if entity is None:
            raise ValueError(f"{edit.world_id} is not in the file")
        if edit.kind == "delete":
            return DeleteEntities([edit.world_id])
        parts: list[Command] = []
        props = dict(edit.props)
        if "pos" in props:
            pos = _triple(props.pop("pos"))
            if pos is None:
                raise ValueError("pos is not [x, y]")
            parts.append(MoveEntities({entity.id: (entity.pos, (pos[0], pos[1]))}))
        if "yaw" in props:
            parts.append(RotateEntities({entity.id: (entity.yaw, _float(props.pop("yaw")) % 360.0)}))
        if props:
            bad = doc.tree.check_properties(entity.cls, {k: v for k, v in props.items() if v is not None})
            if bad:
                raise ValueError("; ".join(bad))
            changes = property_changes(entity, {k: (UNSET if v is None else v) for k, v in props.items()})
            if changes:
                parts.append(SetProperties({entity.id: changes}))
        return Batch(parts, label="set") if parts else None


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def pending_ghosts(edits: Iterable[LiveEdit]) -> list[tuple[LiveEdit, tuple[float, float] | None]]:
    """Open edits with where to draw them: a create's or a move's position (None: no position)."""
    out = []
    for e in edits:
        if e.state not in (EditState.QUEUED, EditState.PENDING):
            continue
        pos = _triple(e.props.get("pos")) if e.kind in ("create", "set") else None
        out.append((e, (pos[0], pos[1]) if pos else None))
    return out
