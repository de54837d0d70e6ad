"""The side panels: a scrolling list (palette, problems, live edits), the inspector, the status line, help.

Each panel owns a rectangle of the window and a batch it rebuilds when its
content or rectangle changed; the app asks a panel which row is under a
click. Importing this module needs a display.
"""

from __future__ import annotations

from typing import Any

import pyglet
from pyglet import shapes

from worldbuilder._inspect import Row

ROW = 16
FONT = 9
TEXT = (230, 230, 230, 255)
DIM = (150, 150, 150, 255)
ACCENT = (255, 200, 80, 255)
ERROR = (255, 110, 100, 255)
PANEL = (38, 40, 46, 255)
HIGHLIGHT = (70, 90, 130, 255)


class Panel:
    """A rectangle with a title and rows of text; ``rows`` are (text, colour) pairs."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rect = (0, 0, 100, 100)
        self.rows: list[tuple[str, tuple[int, int, int, int]]] = []
        self.highlight: int | None = None
        self.scroll = 0
        self.batch = pyglet.graphics.Batch()
        self._items: list[Any] = []
        self._key: Any = None

    def row_at(self, sx: float, sy: float) -> int | None:
        """The index of the row under a window pixel, or None."""
        x, y, w, h = self.rect
        if not (x <= sx < x + w and y <= sy < y + h):
            return None
        n = int((y + h - ROW - 4 - sy) // ROW) + self.scroll
        return n if 0 <= n < len(self.rows) and sy < y + h - ROW - 4 else None

    def contains(self, sx: float, sy: float) -> bool:
        x, y, w, h = self.rect
        return x <= sx < x + w and y <= sy < y + h

    def scroll_by(self, rows: int) -> None:
        self.scroll = max(0, min(self.scroll + rows, max(0, len(self.rows) - self.visible_rows())))

    def visible_rows(self) -> int:
        return max(1, (self.rect[3] - ROW - 6) // ROW)

    def draw(self) -> None:
        """Rebuild the batch only when what it shows changed (``_state``), then draw it."""
        key = self._state()
        if key != self._key:
            self._key = key
            self._build()
        self.batch.draw()

    def _state(self) -> Any:
        return (self.rect, self.title, tuple(self.rows), self.highlight, self.scroll)

    def _frame(self, title: str) -> tuple[list[Any], Any, Any]:
        """A fresh batch with the panel's background, title bar and title: (items, back, front groups)."""
        self.batch = pyglet.graphics.Batch()
        back, front = pyglet.graphics.Group(order=0), pyglet.graphics.Group(order=1)
        x, y, w, h = self.rect
        items: list[Any] = [
            shapes.Rectangle(x, y, w, h, color=PANEL, batch=self.batch, group=back),
            shapes.Rectangle(x, y + h - ROW - 4, w, ROW + 4, color=(28, 30, 34, 255), batch=self.batch,
                             group=back),
            pyglet.text.Label(title, x=x + 6, y=y + h - ROW + 1, font_size=FONT, weight="bold",
                              color=ACCENT, batch=self.batch, group=front)]
        return items, back, front

    def _build(self) -> None:
        items, back, front = self._frame(self.title)
        x, y, w, h = self.rect
        top = y + h - ROW - 4
        chars = max(8, int(w / 6.2))
        for n in range(self.scroll, min(len(self.rows), self.scroll + self.visible_rows())):
            text, colour = self.rows[n]
            row_y = top - (n - self.scroll + 1) * ROW
            if n == self.highlight:
                items.append(shapes.Rectangle(x, row_y, w, ROW, color=HIGHLIGHT, batch=self.batch,
                                              group=back))
            items.append(pyglet.text.Label(text[:chars], x=x + 6, y=row_y + 4, font_size=FONT, color=colour,
                                           batch=self.batch, group=front))
        self._items = items


class Inspector(Panel):
    """Property rows (key, value, source) with one field being edited and an error line."""

    def __init__(self) -> None:
        super().__init__("Inspector")
        self.props: list[Row] = []
        self.editing: str | None = None
        self.buffer = ""
        self.error = ""
        self.header = ""

    def set_rows(self, header: str, rows: list[Row]) -> None:
        self.header = header
        self.props = rows
        self.rows = [(r.key, TEXT) for r in rows]

    def key_at(self, sx: float, sy: float) -> Row | None:
        n = self.row_at(sx, sy)
        return self.props[n] if n is not None else None

    def reset_hit(self, sx: float) -> bool:
        """Whether a click at ``sx`` is on the reset mark at the end of an overridden row."""
        x, _, w, _ = self.rect
        return sx >= x + w - 18

    def _state(self) -> Any:
        return (self.rect, self.header, tuple(self.props), self.editing, self.buffer, self.error, self.scroll)

    def _build(self) -> None:
        items, back, front = self._frame(self.header or "Inspector: nothing selected")
        x, y, w, h = self.rect
        top = y + h - ROW - 4
        value_x = x + int(w * 0.34)
        source_x = x + int(w * 0.70)
        for n in range(self.scroll, min(len(self.props), self.scroll + self.visible_rows() - 2)):
            row = self.props[n]
            row_y = top - (n - self.scroll + 1) * ROW
            editing = row.key == self.editing
            if editing:
                items.append(shapes.Rectangle(value_x - 3, row_y, source_x - value_x, ROW, color=HIGHLIGHT,
                                              batch=self.batch, group=back))
            value = self.buffer + "|" if editing else row.text
            colour = ACCENT if row.overridden else (TEXT if row.editable else DIM)
            items.append(pyglet.text.Label(row.key[:18], x=x + 6, y=row_y + 4, font_size=FONT, color=DIM,
                                           batch=self.batch, group=front))
            fits = max(4, int((source_x - value_x - 8) / 6.4))
            shown = value[-fits:] if editing else (value if len(value) <= fits else value[:fits - 1] + "~")
            items.append(pyglet.text.Label(shown, x=value_x, y=row_y + 4,
                                           font_size=FONT, color=colour, batch=self.batch, group=front))
            items.append(pyglet.text.Label(row.source[:24], x=source_x, y=row_y + 4, font_size=FONT - 1,
                                           color=DIM, batch=self.batch, group=front))
            if row.overridden and row.editable and row.source != "live":
                items.append(pyglet.text.Label("x", x=x + w - 12, y=row_y + 4, font_size=FONT, color=ERROR,
                                               batch=self.batch, group=front))
        if self.error:
            items.append(shapes.Rectangle(x, y, w, 2 * ROW + 4, color=(70, 30, 30, 255), batch=self.batch,
                                          group=back))
            items.append(pyglet.text.Label(self.error, x=x + 6, y=y + 4, width=w - 12, multiline=True,
                                           font_size=FONT - 1, color=ERROR, batch=self.batch, group=front))
        self._items = items


class StatusBar:
    """One line across the top of the window: file, counts, mode, cursor, live state, the last message."""

    def __init__(self) -> None:
        self.rect = (0, 0, 100, 22)
        self.text = ""
        self.message = ""
        self.message_colour = TEXT
        self.batch = pyglet.graphics.Batch()
        self._items: list[Any] = []
        self._key: Any = None

    def draw(self) -> None:
        key = (self.rect, self.text, self.message, self.message_colour)
        if key != self._key:
            self._key = key
            self.batch = pyglet.graphics.Batch()
            x, y, w, h = self.rect
            back, front = pyglet.graphics.Group(order=0), pyglet.graphics.Group(order=1)
            self._items = [
                shapes.Rectangle(x, y, w, h, color=(24, 26, 30, 255), batch=self.batch, group=back),
                pyglet.text.Label(self.text, x=x + 6, y=y + 6, font_size=FONT, color=TEXT, batch=self.batch,
                                  group=front),
                pyglet.text.Label(self.message, x=x + w - 6, y=y + 6, anchor_x="right", font_size=FONT,
                                  color=self.message_colour, batch=self.batch, group=front)]
        self.batch.draw()


class HelpOverlay:
    """The F1 page: every key and mouse action, drawn over the window."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.visible = False
        self.batch = pyglet.graphics.Batch()
        self._items: list[Any] = []
        self._size: Any = None

    def draw(self, width: int, height: int) -> None:
        if not self.visible:
            return
        if self._size != (width, height):
            self._size = (width, height)
            self.batch = pyglet.graphics.Batch()
            back, front = pyglet.graphics.Group(order=0), pyglet.graphics.Group(order=1)
            self._items = [
                shapes.Rectangle(40, 40, width - 80, height - 80, color=(15, 15, 20, 235), batch=self.batch,
                                 group=back),
                pyglet.text.Label(self.text, x=60, y=height - 60, width=width - 120, multiline=True,
                                  font_name="monospace", font_size=FONT + 1, color=TEXT, anchor_y="top",
                                  batch=self.batch, group=front)]
        self.batch.draw()
