"""Reading and writing world files for the editor: the only file I/O of the editing model.

Opening never fails on a broken file (the problems come back in the
document); only a file that cannot be read at all raises OSError. Saving
is atomic (:func:`gamelogic.worldfile.save_world`): a crash mid-save leaves
the old file whole.
"""

from __future__ import annotations

from pathlib import Path

from gamelogic.classes import ClassTree
from gamelogic.worldfile import DEMO_WORLD, save_world
from worldbuilder._document import Document


def open_document(path: str | Path, tree: ClassTree | None = None) -> Document:
    """The world file at ``path`` as a document; the shipped demo world opens protected."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    protected = path.resolve() == DEMO_WORLD.resolve()
    return Document.from_text(text, tree or ClassTree.load(), path=path, protected=protected)


def save_document(doc: Document, path: str | Path | None = None) -> Path:
    """Write the document to ``path`` (default: where it came from) and mark it clean."""
    target = Path(path) if path is not None else doc.path
    if target is None:
        raise ValueError("the world has no file yet: give a path")
    save_world(doc.world, target)
    doc.saved(target)
    return target
