"""The worldbuilder: a designer's editor for world files and, in live mode, for a running world.

The editing model (:class:`Document`, the commands, :class:`View`,
:class:`LiveWorld`) has no window and no sockets, so it is tested without
either; :mod:`worldbuilder.app` is the pyglet GUI on top of it and
:class:`LiveLink` the connection to a cluster. See ``docs/worldbuilder.md``.

    doc = open_document(DEMO_WORLD)           # never fails on a broken file: doc.problems()
    doc.place("pig", (300.0, 310.0))
    save_document(doc, Path("greenhollow.toml"))
"""

from worldbuilder._commands import (
    UNSET,
    AddEntities,
    Batch,
    Command,
    DeleteEntities,
    History,
    MoveEntities,
    RotateEntities,
    SetProperties,
)
from worldbuilder._document import Document, EditError
from worldbuilder._fields import format_field, parse_field
from worldbuilder._files import open_document, save_document
from worldbuilder._link import LiveLink
from worldbuilder._live import EditState, LiveEdit, LiveEntity, LiveWorld
from worldbuilder._run import run
from worldbuilder._view import View

__all__ = [
    "UNSET", "AddEntities", "Batch", "Command", "DeleteEntities", "Document", "EditError", "EditState",
    "History", "LiveEdit", "LiveEntity", "LiveLink", "LiveWorld", "MoveEntities", "RotateEntities",
    "SetProperties", "View", "format_field", "open_document", "parse_field", "run", "save_document",
]
