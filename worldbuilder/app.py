"""The worldbuilder window: the map, the palette, the inspector, the problems and live panels, and the keys.

:class:`WorldbuilderApp` turns pyglet's mouse and key events into calls on
a :class:`~worldbuilder.Document` (or, for live entities, a
:class:`~worldbuilder.LiveWorld`), and draws the result. Every action goes
through :meth:`WorldbuilderApp._act`, which shows any refusal or error on
the status line instead of letting it escape: nothing a designer does
takes the editor down. Tests drive it by dispatching events to its window
and calling :meth:`WorldbuilderApp.draw`; :func:`worldbuilder.run` (what
``spenefett worldbuilder`` calls) opens one::

    app = WorldbuilderApp(open_document(path), pyglet.window.Window(1280, 800))
    pyglet.app.run()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyglet
from pyglet.window import key, mouse

from worldbuilder._document import Document, EditError
from worldbuilder._draw import MapPainter
from worldbuilder._editor import Editor
from worldbuilder._files import save_document
from worldbuilder._inspect import inspect, inspect_live
from worldbuilder._link import LiveLink
from worldbuilder._live import EditState, LiveWorld
from worldbuilder._panels import ACCENT, DIM, ERROR, TEXT, HelpOverlay, Inspector, Panel, StatusBar
from worldbuilder._view import View

HELP = """Spenefett worldbuilder: keys and mouse                                  (F1 closes this page)

MAP
  left click            select an entity (Shift: add to / remove from the selection)
  left drag on empty    box select (Shift: add)
  left drag on selected move the selection (snapped to the grid when snapping is on)
  right or middle drag  pan                         wheel             zoom about the mouse
  Home                  show the whole world         G  snapping on/off    [ ]  finer / coarser grid

EDITING
  click a class in the palette, then click the map: place one (again and again; Esc or right click stops)
  Delete / Backspace    delete the selection         Ctrl+D   duplicate the selection
  R / Shift+R           turn the selection 15 degrees left / right
  arrow keys            nudge one grid step (Shift: ten)
  Ctrl+A                select everything            Esc      cancel / clear the selection
  Ctrl+Z                undo                         Ctrl+Y or Ctrl+Shift+Z   redo
  inspector             click a value, type, Enter to set it (Esc cancels, Tab: next field);
                        the red x at a row's end removes the override (the class's value applies again)

FILES
  Ctrl+S                save (asks again when there are problems, or for the shipped demo world)
  Ctrl+Shift+S          save as (type a path, Enter)
  Ctrl+Q                quit (asks again if there are unsaved changes)

PROBLEMS AND LIVE
  F2                    bottom panel: problems / live edits
  click a problem       select its entity and show it on the map (problems are outlined in red)
  L                     live mode: edit the running world or the file  (the status line says which);
                        live, a click picks a live entity and the file is left alone
  Ctrl+E                export the live edits into the file (one undo step; then save)
  F5                    reconnect to the live world now
"""

_NUDGE = {key.LEFT: (-1, 0), key.RIGHT: (1, 0), key.UP: (0, 1), key.DOWN: (0, -1)}
PALETTE_W = 180
INSPECTOR_W = 340
BOTTOM_H = 150
STATUS_H = 22
PICK_PIXELS = 6


class WorldbuilderApp:
    """The editor on one window; see the module docstring."""

    def __init__(self, doc: Document, window: Any, *, link: LiveLink | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.doc = doc
        self.window = window
        self.link = link
        self.live: LiveWorld | None = link.live if link is not None else None
        self.editor = Editor(doc, self.live, send=self._send)
        self.clock = clock
        self.view = View()
        self.painter = MapPainter(doc)
        self.palette = Panel("Palette: classes")
        self.problems = Panel("Problems")
        self.inspector = Inspector()
        self.status = StatusBar()
        self.help = HelpOverlay(HELP)
        self.classes = self._class_rows()
        self.placing: str | None = None
        self.bottom = "problems"
        self.focus: str | None = None
        self.cursor = (0.0, 0.0)
        self.prompt: tuple[str, str, Callable[[str], None]] | None = None
        self._drag: dict[str, Any] | None = None
        self._confirm: Any = None
        self._closed = False
        self.window.push_handlers(self)
        self._layout(*self.window.get_size())
        self.view.fit(doc.world.size)
        broken = len(doc.load_problems)
        self._note(f"opened {doc.path}" + (f" with {broken} problem(s)" if broken else ""),
                   ERROR if broken else TEXT)

    @property
    def target(self) -> str:
        """What the mouse and keys edit: "file" or "live"."""
        return self.editor.target

    @property
    def live_selected(self) -> int | None:
        return self.editor.live_selected

    @live_selected.setter
    def live_selected(self, guid: int | None) -> None:
        self.editor.live_selected = guid

    # -- layout and drawing ---------------------------------------------------------------------------

    def _layout(self, width: int, height: int) -> None:
        map_w = max(width - PALETTE_W - INSPECTOR_W, 50)
        map_h = max(height - BOTTOM_H - STATUS_H, 50)
        self.view.viewport = (PALETTE_W, BOTTOM_H, map_w, map_h)
        self.palette.rect = (0, 0, PALETTE_W, height - STATUS_H)
        self.inspector.rect = (PALETTE_W + map_w, 0, INSPECTOR_W, height - STATUS_H)
        self.problems.rect = (PALETTE_W, 0, map_w, BOTTOM_H)
        self.status.rect = (0, height - STATUS_H, width, STATUS_H)

    def on_resize(self, width: int, height: int) -> None:
        self._layout(width, height)

    def on_draw(self) -> None:
        self._act(self.draw)

    def draw(self) -> None:
        """Draw one frame (the window's on_draw; tests call it before reading the colour buffer)."""
        self.window.switch_to()
        self.window.clear()
        self._refresh_panels()
        overlay = {"focus": self.focus, "live_selected": self.live_selected}
        if self._drag and self._drag["kind"] == "move" and self._drag.get("offset") != (0.0, 0.0):
            overlay["move_offset"] = self._drag["offset"]
        if self._drag and self._drag["kind"] == "box":
            overlay["box"] = (self._drag["start"], self._drag["now"])
        if self.placing and self.view.contains(*self.view.to_screen(*self.cursor)):
            overlay["preview"] = (self.placing, self.view.snap(self.cursor))
        self.painter.draw(self.view, self.live, overlay, self.window)
        self.palette.draw()
        self.problems.draw()
        self.inspector.draw()
        self.status.draw()
        self.help.draw(*self.window.get_size())

    def _class_rows(self) -> list[str]:
        """Class names depth first from the roots, so the palette reads as the tree."""
        tree = self.doc.tree
        out: list[str] = []

        def walk(name: str, depth: int) -> None:
            if name in out:
                return
            out.append(name)
            self._depth[name] = depth
            for child in tree.children(name):
                walk(child, depth + 1)

        self._depth: dict[str, int] = {}
        for name in tree.names():
            if not tree.parents(name):
                walk(name, 0)
        return out

    def _refresh_panels(self) -> None:
        self.palette.rows = [("  " * self._depth[c] + c, ACCENT if c == self.placing else TEXT)
                             for c in self.classes]
        self.palette.highlight = self.classes.index(self.placing) if self.placing in self.classes else None
        if self.bottom == "problems":
            problems = self.doc.problems()
            self.problems.title = f"Problems ({len(problems)})   [F2: live edits]"
            self.problems.rows = [(str(p), ERROR) for p in problems] or [("no problems", DIM)]
        else:
            edits = self.live.edits if self.live else []
            still_open = len(self.live.open_edits()) if self.live else 0
            self.problems.title = f"Live edits ({len(edits)}, {still_open} open)   [F2: problems]"
            colours = {EditState.DONE: TEXT, EditState.PENDING: ACCENT, EditState.QUEUED: DIM,
                       EditState.REFUSED: ERROR}
            self.problems.rows = [(e.describe(), colours[e.state]) for e in reversed(edits)] + [
                (line, DIM) for line in reversed(self.live.log if self.live else [])]
            if not self.problems.rows:
                self.problems.rows = [("not in live mode" if self.live is None else "no live edits yet", DIM)]
        live_entity = self.live.entities.get(self.live_selected) if self.live and self.live_selected else None
        if live_entity is not None:
            self.inspector.set_rows(f"Live: {live_entity.name or live_entity.id or live_entity.guid} "
                                    f"({live_entity.cls})", inspect_live(self.doc, live_entity))
        else:
            ids = self.doc.selection
            header = "" if not ids else (f"{ids[0]} ({self.doc.entity(ids[0]).cls})" if len(ids) == 1
                                         else f"{len(ids)} selected")
            self.inspector.set_rows(header, inspect(self.doc, ids))
        self.status.text = self._status_text()

    def _status_text(self) -> str:
        doc = self.doc
        name = f"{doc.world.name}{' *' if doc.dirty else ''}"
        where = str(doc.path) if doc.path else "no file"
        snap = f"grid {self.view.grid:g} m {'snap' if self.view.snapping else 'free'}"
        parts = [name, where, f"{len(doc.world.entities)} entities", snap,
                 f"{self.cursor[0]:.1f}, {self.cursor[1]:.1f}"]
        if self.placing:
            parts.append(f"placing {self.placing}")
        if self.link is not None:
            parts.append(f"live: {self.link.state}{' (' + self.link.reason + ')' if self.link.reason else ''}"
                         f", editing the {'LIVE WORLD' if self.target == 'live' else 'file'}")
        if self.prompt:
            label, buffer, _ = self.prompt
            return f"{label}{buffer}|"
        return "  |  ".join(parts)

    def _note(self, message: str, colour: tuple[int, int, int, int] = TEXT) -> None:
        self.status.message = message
        self.status.message_colour = colour

    # -- the clock --------------------------------------------------------------------------------------

    def tick(self, dt: float = 0.0) -> None:
        """Pump the live link (pyglet's clock calls this; so do tests)."""
        if self.link is not None:
            self._act(lambda: self.link.poll(self.clock()))
            self.editor.forget_gone()

    # -- doing things safely ----------------------------------------------------------------------------

    def _act(self, action: Callable[[], Any]) -> Any:
        """Run a designer's action; a refusal or any error is shown, never raised."""
        try:
            return action()
        except EditError as exc:
            self._note(str(exc), ERROR)
        except Exception as exc:  # a bug must cost the designer one action, not the session
            self._note(f"that did not work: {type(exc).__name__}: {exc}", ERROR)
        return None

    def _do(self, action: Callable[[], str]) -> None:
        """An editor action whose sentence goes on the status line."""
        message = action()
        if message:
            self._note(message)

    # -- mouse ----------------------------------------------------------------------------------------

    def on_mouse_motion(self, x: int, y: int, dx: int, dy: int) -> None:
        if self.view.contains(x, y):
            self.cursor = self.view.to_world(x, y)

    def on_mouse_press(self, x: int, y: int, button: int, modifiers: int) -> None:
        self._act(lambda: self._press(x, y, button, modifiers))

    def _press(self, x: int, y: int, button: int, modifiers: int) -> None:
        self._commit_field()
        self._refresh_panels()  # rows as they are now, even if no frame was drawn since the last change
        if self.help.visible:
            self.help.visible = False
            return
        if self.palette.contains(x, y):
            n = self.palette.row_at(x, y)
            if n is not None and button == mouse.LEFT:
                cls = self.classes[n]
                self.placing = None if self.placing == cls else cls
                self._note(f"click the map to place a {cls}; Esc stops" if self.placing else "")
            return
        if self.inspector.contains(x, y):
            self._inspector_click(x, y)
            return
        if self.problems.contains(x, y):
            self._problem_click(x, y)
            return
        if not self.view.contains(x, y):
            return
        world = self.view.to_world(x, y)
        self.cursor = world
        if button in (mouse.RIGHT, mouse.MIDDLE):
            self._drag = {"kind": "pan", "moved": False}
            return
        if button != mouse.LEFT:
            return
        if self.placing:
            self._do(lambda: self.editor.place(self.placing, self.view.snap(world)))
            return
        shift = bool(modifiers & key.MOD_SHIFT)
        tolerance = self.view.metres(PICK_PIXELS)
        if self.editor.live_mode:
            hit_live = self.live.pick(world[0], world[1], tolerance)
            if hit_live is not None:
                self.live_selected = hit_live.guid
                self.doc.clear_selection()
                self._drag = {"kind": "move", "start": world, "live": hit_live.guid,
                              "anchor": hit_live.pos[:2], "offset": (0.0, 0.0)}
                return
            self.live_selected = None  # live, the file's entities are not picked: L switches
            self._drag = {"kind": "pan", "moved": False}
            return
        hit = self.doc.pick(world[0], world[1], tolerance)
        if hit is not None:
            if shift:
                self.doc.toggle(hit)
            elif hit not in self.doc.selection:
                self.doc.select([hit])
            if hit in self.doc.selection:
                anchor = self.doc.entity(hit).pos
                self._drag = {"kind": "move", "start": world, "anchor": anchor, "offset": (0.0, 0.0)}
            return
        self._drag = {"kind": "box", "start": world, "now": world, "add": shift}

    def on_mouse_drag(self, x: int, y: int, dx: int, dy: int, buttons: int, modifiers: int) -> None:
        self._act(lambda: self._dragged(x, y, dx, dy))

    def _dragged(self, x: int, y: int, dx: int, dy: int) -> None:
        if self.view.contains(x, y):
            self.cursor = self.view.to_world(x, y)
        drag = self._drag
        if drag is None:
            return
        if drag["kind"] == "pan":
            drag["moved"] = True
            self.view.pan(dx, dy)
        elif drag["kind"] == "box":
            drag["now"] = self.view.to_world(x, y)
        elif drag["kind"] == "move":
            wx, wy = self.view.to_world(x, y)
            ax, ay = drag["anchor"]
            raw = (ax + wx - drag["start"][0], ay + wy - drag["start"][1])
            snapped = self.view.snap(raw)
            drag["offset"] = (snapped[0] - ax, snapped[1] - ay)

    def on_mouse_release(self, x: int, y: int, button: int, modifiers: int) -> None:
        self._act(lambda: self._released(button))

    def _released(self, button: int) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        if drag["kind"] == "pan":
            if not drag["moved"] and button == mouse.RIGHT and self.placing:
                self.placing = None
                self._note("placing stopped")
        elif drag["kind"] == "box":
            (ax, ay), (bx, by) = drag["start"], drag["now"]
            if abs(bx - ax) * self.view.scale < 3 and abs(by - ay) * self.view.scale < 3:
                if not drag["add"]:
                    self.doc.clear_selection()
            else:
                self.doc.select(self.doc.in_box(ax, ay, bx, by), add=drag["add"])
        elif drag["kind"] == "move" and drag["offset"] != (0.0, 0.0):
            dx, dy = drag["offset"]
            if "live" in drag:
                self.live_selected = drag["live"]
            self._act(lambda: self._do(lambda: self.editor.move(dx, dy)))

    def on_mouse_scroll(self, x: int, y: int, scroll_x: float, scroll_y: float) -> None:
        self._act(lambda: self._scrolled(x, y, scroll_y))

    def _scrolled(self, x: int, y: int, scroll_y: float) -> None:
        for panel in (self.palette, self.problems, self.inspector):
            if panel.contains(x, y):
                panel.scroll_by(-int(scroll_y) * 3)
                return
        if self.view.contains(x, y):
            self.view.zoom_at(1.2 ** scroll_y, x, y)

    # -- panels -------------------------------------------------------------------------------------

    def _inspector_click(self, x: int, y: int) -> None:
        row = self.inspector.key_at(x, y)
        if row is None or not row.editable:
            return
        if row.overridden and self.inspector.reset_hit(x) and self.live_selected is None:
            self.doc.reset_property(self.doc.selection, row.key)
            self._note(f"{row.key}: the class's value applies again")
            return
        self.inspector.editing = row.key
        self.inspector.buffer = "" if row.text == "(mixed)" else row.text
        self.inspector.error = ""

    def _problem_click(self, x: int, y: int) -> None:
        n = self.problems.row_at(x, y)
        if n is None or self.bottom != "problems":
            return
        problems = self.doc.problems()
        if n >= len(problems):
            return
        self.problems.highlight = n
        problem = problems[n]
        if problem.entity and self.doc.entity(problem.entity) is not None:
            self.focus = problem.entity
            self.doc.select([problem.entity])
            self.view.centre_on(*self.doc.entity(problem.entity).pos)
        self._note(str(problem), ERROR)

    def _commit_field(self) -> bool:
        """Set the field being edited from its text; False (and the error shown) if it does not parse."""
        field = self.inspector.editing
        if field is None:
            return True
        text = self.inspector.buffer
        try:
            self.editor.set_field(field, text)
        except EditError as exc:
            self.inspector.error = str(exc)
            self._note(str(exc), ERROR)
            return False
        self.inspector.editing = None
        self.inspector.error = ""
        return True

    # -- keys ------------------------------------------------------------------------------------------

    def on_text(self, text: str) -> None:
        if self.prompt is not None:
            label, buffer, done = self.prompt
            self.prompt = (label, buffer + text.replace("\r", "").replace("\n", ""), done)
        elif self.inspector.editing is not None:
            self.inspector.buffer += text.replace("\r", "").replace("\n", "").replace("\t", "")

    def on_key_press(self, symbol: int, modifiers: int) -> Any:
        result = self._act(lambda: self._key(symbol, modifiers))
        return pyglet.event.EVENT_HANDLED if symbol == key.ESCAPE or result else None

    def _key(self, symbol: int, modifiers: int) -> bool:
        ctrl = bool(modifiers & (key.MOD_CTRL | key.MOD_COMMAND))
        shift = bool(modifiers & key.MOD_SHIFT)
        if self.prompt is not None:
            return self._prompt_key(symbol)
        if self.inspector.editing is not None:
            return self._field_key(symbol)
        action = (symbol, ctrl, shift)
        if self._confirm is not None and self._confirm[0] != action:
            self._confirm = None
        if symbol == key.F1:
            self.help.visible = not self.help.visible
        elif symbol == key.ESCAPE:
            if self.help.visible:
                self.help.visible = False
            elif self.placing:
                self.placing = None
            else:
                self.doc.clear_selection()
                self.live_selected = None
                self.focus = None
        elif ctrl and symbol == key.Z:
            self._redo() if shift else self._undo()
        elif ctrl and symbol == key.Y:
            self._redo()
        elif ctrl and symbol == key.S:
            self.save_as_prompt() if shift else self.save(action=action)
        elif ctrl and symbol == key.Q:
            self.quit(action)
        elif ctrl and symbol == key.A:
            self.doc.select_all()
        elif ctrl and symbol == key.D:
            self._do(lambda: self.editor.duplicate((self.view.grid, -self.view.grid)))
        elif ctrl and symbol == key.E:
            self._do(self.editor.export_live)
        elif symbol in (key.DELETE, key.BACKSPACE):
            self._do(self.editor.delete)
        elif symbol == key.R and not ctrl:
            self._do(lambda: self.editor.rotate(-15.0 if shift else 15.0))
        elif symbol in _NUDGE and not ctrl:
            step = self.view.grid * (10 if shift else 1)
            ux, uy = _NUDGE[symbol]
            self._do(lambda: self.editor.move(ux * step, uy * step))
        elif symbol == key.G and not ctrl:
            self.view.snapping = not self.view.snapping
            self._note(f"snapping {'on' if self.view.snapping else 'off'}")
        elif symbol == key.BRACKETLEFT:
            self.view.finer_grid()
        elif symbol == key.BRACKETRIGHT:
            self.view.coarser_grid()
        elif symbol == key.HOME:
            self.view.fit(self.doc.world.size)
        elif symbol == key.F2:
            self.bottom = "live" if self.bottom == "problems" else "problems"
            self.problems.scroll, self.problems.highlight = 0, None
        elif symbol == key.L and not ctrl:
            self._do(self.editor.toggle_target)
        elif symbol == key.F5 and self.link is not None:
            if self.link.state in ("lost", "failed", "idle"):
                self.link.start()
            else:
                self._note(f"live link {self.link.state}")
        else:
            return False
        return True

    def _field_key(self, symbol: int) -> bool:
        if symbol in (key.RETURN, key.ENTER):
            self._commit_field()
        elif symbol == key.TAB:
            field = self.inspector.editing
            if self._commit_field():
                keys = [r.key for r in self.inspector.props if r.editable]
                if field in keys and keys:
                    nxt = keys[(keys.index(field) + 1) % len(keys)]
                    row = next(r for r in self.inspector.props if r.key == nxt)
                    self.inspector.editing, self.inspector.buffer = nxt, row.text
        elif symbol == key.ESCAPE:
            self.inspector.editing = None
            self.inspector.error = ""
        elif symbol == key.BACKSPACE:
            self.inspector.buffer = self.inspector.buffer[:-1]
        return True

    def _prompt_key(self, symbol: int) -> bool:
        label, buffer, done = self.prompt
        if symbol in (key.RETURN, key.ENTER):
            self.prompt = None
            self._act(lambda: done(buffer))
        elif symbol == key.ESCAPE:
            self.prompt = None
            self._note("cancelled")
        elif symbol == key.BACKSPACE:
            self.prompt = (label, buffer[:-1], done)
        return True

    # -- actions --------------------------------------------------------------------------------------

    def _send(self, op: Any) -> None:
        if self.link is not None:
            self.link.send(op)

    def _undo(self) -> None:
        label = self.doc.undo()
        self._note(f"undid {label}" if label else "nothing to undo")

    def _redo(self) -> None:
        label = self.doc.redo()
        self._note(f"redid {label}" if label else "nothing to redo")

    def save(self, path: str | Path | None = None, *, action: Any = "save") -> bool:
        """Save (to ``path`` or the document's own file); asks to repeat the action first if there is
        anything the designer should know (problems, the demo world, a file that would be replaced)."""
        target = Path(path) if path is not None else self.doc.path
        if target is None:
            self.save_as_prompt()
            return False
        warnings = self.doc.save_warnings(target)
        if target != self.doc.path and target.exists():
            warnings.append(f"{target} exists and will be replaced")
        if warnings and self._confirm != (action, target):
            self._confirm = (action, target)
            self._note("; ".join(warnings) + ": do it again to save anyway", ERROR)
            return False
        self._confirm = None
        saved = save_document(self.doc, target)
        self._note(f"saved {saved}")
        return True

    def save_as_prompt(self) -> None:
        if self.doc.protected or self.doc.path is None:
            suggestion = str(Path.cwd() / f"{self.doc.world.name.lower().replace(' ', '_') or 'world'}.toml")
        else:
            suggestion = str(self.doc.path)
        self.prompt = ("Save as (Enter saves, Esc cancels): ", suggestion,
                       lambda text: self.save(text.strip(), action=("save as", text.strip())))

    def quit(self, action: Any = "quit") -> bool:
        """Close the window; asks to repeat the action first if there is unsaved work."""
        unsaved = []
        if self.doc.dirty:
            unsaved.append("unsaved changes")
        if self.live is not None and self.live.open_edits():
            unsaved.append(f"{len(self.live.open_edits())} live edit(s) not acknowledged "
                           "(Ctrl+E exports them)")
        if unsaved and self._confirm != (action, "quit"):
            self._confirm = (action, "quit")
            self._note(", ".join(unsaved) + ": do it again to quit anyway", ERROR)
            return False
        self._closed = True
        if self.link is not None:
            self.link.close()
        self.window.has_exit = True  # closed by run() once the event loop is out of this handler
        if pyglet.app.event_loop.is_running:
            pyglet.app.exit()
        return True

    def on_close(self) -> Any:
        if not self._closed and not self.quit(action="close"):
            return pyglet.event.EVENT_HANDLED
        return None

