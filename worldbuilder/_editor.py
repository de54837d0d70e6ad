"""What each designer action does, on the world file or, in live mode, on the running world.

The window maps keys and clicks to these methods and shows the sentence
each returns; the same action goes to the :class:`~worldbuilder.Document`
(undoable) or becomes an operation for the server through ``send`` (live,
acknowledged later). No window and no sockets here::

    editor = Editor(doc)                         # the file only
    editor.place("pig", (300.0, 310.0))          # 'placed pig at 300, 310'
    editor = Editor(doc, live, send=link.send)   # live mode: target "live" first
    editor.live_selected = guid
    editor.move(2.0, 0.0)                        # Set(target=guid, props={"pos": [...]}) sent
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worldbuilder._document import Document, EditError
from worldbuilder._fields import parse_field
from worldbuilder._live import LiveEntity, LiveWorld

_NO_LIVE_CHOICE = "click a live entity first (L switches to editing the file)"


class Editor:
    """Actions on the file, or, when ``target`` is "live", on the chosen live entity (never the file)."""

    def __init__(self, doc: Document, live: LiveWorld | None = None,
                 send: Callable[[Any], None] | None = None) -> None:
        self.doc = doc
        self.live = live
        self.send = send or (lambda op: None)
        self.target = "live" if live is not None else "file"
        self.live_selected: int | None = None
        """The live entity the inspector shows and live actions apply to (its Guid)."""

    @property
    def live_mode(self) -> bool:
        """Whether actions go to the running world (placing always does, in live mode)."""
        return self.target == "live" and self.live is not None

    def toggle_target(self) -> str:
        if self.live is None:
            raise EditError("not in live mode: start with --live HOST:PORT")
        self.target = "file" if self.target == "live" else "live"
        self.live_selected = None
        return f"editing the {'LIVE WORLD' if self.target == 'live' else 'file'}"

    def chosen(self) -> LiveEntity | None:
        """The chosen live entity, if live actions apply to it now."""
        if not self.live_mode or self.live_selected is None:
            return None
        return self.live.entities.get(self.live_selected)

    def forget_gone(self) -> None:
        """Drop the live choice if that entity has left the view."""
        if self.live is not None and self.live_selected not in self.live.entities:
            self.live_selected = None

    # -- actions ---------------------------------------------------------------------------------

    def place(self, cls: str, pos: tuple[float, float]) -> str:
        if not self.live_mode:
            new = self.doc.place(cls, pos)
            return f"placed {new} at {pos[0]:g}, {pos[1]:g}"
        if cls not in self.doc.tree:
            raise EditError(f"there is no class {cls!r}")
        world_id = self._free_id(cls)
        self.send(self.live.create(cls, pos, {}, world_id))
        state = "sent" if self.live.connected else "queued (not connected)"
        return f"live: create {cls} {world_id} {state}"

    def move(self, dx: float, dy: float) -> str:
        entity = self.chosen()
        if entity is not None:
            self._set(entity, {"pos": [entity.pos[0] + dx, entity.pos[1] + dy]})
            return f"live: move {entity.id or entity.guid}"
        if self.live_mode:
            return _NO_LIVE_CHOICE
        self.doc.move_selection(dx, dy)
        return ""

    def rotate(self, degrees: float) -> str:
        entity = self.chosen()
        if entity is not None:
            self._set(entity, {"yaw": (entity.yaw + degrees) % 360.0})
            return f"live: turn {entity.id or entity.guid}"
        if self.live_mode:
            return _NO_LIVE_CHOICE
        self.doc.rotate_selection(degrees)
        return ""

    def duplicate(self, offset: tuple[float, float]) -> str:
        entity = self.chosen()
        if entity is not None:
            world_id = self._free_id(entity.cls)
            self.send(self.live.create(entity.cls, (entity.pos[0] + offset[0], entity.pos[1] + offset[1]),
                                       dict(entity.props), world_id))
            return f"live: create {entity.cls} {world_id}"
        if self.live_mode:
            return _NO_LIVE_CHOICE
        copies = self.doc.duplicate_selection(offset)
        return f"duplicated {len(copies)}" if copies else "select something to duplicate"

    def delete(self) -> str:
        entity = self.chosen()
        if entity is not None:
            self.send(self.live.delete(entity.guid))
            self.live_selected = None
            return f"live: delete {entity.id or entity.guid}"
        if self.live_mode:
            return _NO_LIVE_CHOICE
        n = len(self.doc.selection)
        self.doc.delete_selection()
        return f"deleted {n}" if n else "select something to delete"

    def set_field(self, key: str, text: str) -> None:
        """What was typed into the inspector for ``key``: on the chosen live entity, or the selection."""
        if self.live is None or self.live_selected is None:
            self.doc.set_property(self.doc.selection, key, text)
            return
        entity = self.live.entities.get(self.live_selected)
        if entity is None:
            raise EditError("that entity has left the view")
        if key == "pos":
            value, error = parse_field([0.0, 0.0], text)
        elif key == "yaw":
            value, error = parse_field(0.0, text)
        elif entity.cls in self.doc.tree and key in self.doc.tree.defaults(entity.cls):
            value, error = parse_field(self.doc.tree.defaults(entity.cls)[key], text)
        else:
            raise EditError(f"{key} cannot be edited here")
        if error:
            raise EditError(f"{key} {error}")
        self._set(entity, {key: value})

    def export_live(self) -> str:
        if self.live is None:
            raise EditError("not in live mode")
        n, notes = self.live.export_to(self.doc)
        skipped = f"; {len(notes)} not: {notes[0]}" if notes else ""
        return f"exported {n} live edit(s) into the file{skipped}" + ("; save to keep them" if n else "")

    # -- internals ---------------------------------------------------------------------------------

    def _set(self, entity: LiveEntity, props: dict[str, Any]) -> None:
        self.send(self.live.set(entity.guid, props))

    def _free_id(self, stem: str) -> str:
        """An id used neither in the file nor in the live world nor by an edit in flight."""
        taken = self.live.taken_ids() | {e.id for e in self.doc.world.entities}
        world_id, n = stem, 2
        while world_id in taken:
            world_id, n = f"{stem}.{n}", n + 1
        return world_id
