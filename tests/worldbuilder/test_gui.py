"""The GUI under Xvfb: the demo world opened, driven with mouse and key events, pixels and files checked."""

import random

import numpy as np
import pytest

from gamelogic.worldfile import load_world
from worldbuilder import Document

W, H = 1280, 800
PIG = (242, 153, 165)  # classes.toml: pig colour [0.95, 0.6, 0.65]
ROCK = (127, 127, 127)


@pytest.fixture
def gui(x_display, doc):
    return _open(doc)


_OPEN = []


def _open(doc):
    import pyglet

    from worldbuilder.app import WorldbuilderApp
    window = pyglet.window.Window(W, H, visible=True, caption="worldbuilder test")
    _OPEN.append(window)
    app = WorldbuilderApp(doc, window)
    app.draw()
    return app


@pytest.fixture(autouse=True)
def _close_windows():
    yield
    while _OPEN:
        window = _OPEN.pop()
        if window.context is not None:
            window.close()


def pixels(app):
    import pyglet
    app.draw()
    image = pyglet.image.get_buffer_manager().get_color_buffer().get_image_data()
    data = image.get_data("RGB", image.width * 3)
    return np.frombuffer(data, np.uint8).reshape(image.height, image.width, 3)


def colour_at(app, x, y):
    return tuple(int(c) for c in pixels(app)[int(round(y)), int(round(x))])


def near(colour, expected, tolerance=14):
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(colour, expected, strict=True))


def send(app, *event):
    """Queue an event as the OS would, then let pyglet dispatch its queue (what its event loop does)."""
    app.window.dispatch_event(*event)
    if app.window.context is not None:  # not closed by the event
        app.window.dispatch_events()


def click(app, x, y, button=None, modifiers=0):
    from pyglet.window import mouse
    button = mouse.LEFT if button is None else button
    send(app, "on_mouse_press", x, y, button, modifiers)
    send(app, "on_mouse_release", x, y, button, modifiers)


def drag(app, start, end, button=None, steps=6, modifiers=0):
    from pyglet.window import mouse
    button = mouse.LEFT if button is None else button
    send(app, "on_mouse_press", *start, button, modifiers)
    x, y = start
    for n in range(1, steps + 1):
        nx = start[0] + (end[0] - start[0]) * n / steps
        ny = start[1] + (end[1] - start[1]) * n / steps
        send(app, "on_mouse_drag", nx, ny, nx - x, ny - y, button, modifiers)
        x, y = nx, ny
    send(app, "on_mouse_release", *end, button, modifiers)


def press(app, symbol, modifiers=0):
    send(app, "on_key_press", symbol, modifiers)
    send(app, "on_key_release", symbol, modifiers)


def type_text(app, text):
    for ch in text:
        send(app, "on_text", ch)


def palette_row(app, cls):
    from worldbuilder._panels import ROW
    x, y, w, h = app.palette.rect
    n = app.classes.index(cls) - app.palette.scroll
    return x + 30, y + h - ROW - 4 - (n + 1) * ROW + ROW // 2


def inspector_value(app, key):
    from worldbuilder._panels import ROW
    x, y, w, h = app.inspector.rect
    n = [r.key for r in app.inspector.props].index(key) - app.inspector.scroll
    return x + int(w * 0.34) + 10, y + h - ROW - 4 - (n + 1) * ROW + ROW // 2


def screen(app, pos):
    x, y = app.view.to_screen(*pos)
    return int(round(x)), int(round(y))


def zoom_on(app, pos, scale=6.0):
    app.view.scale = scale
    app.view.centre_on(*pos)


# -- the tests -------------------------------------------------------------------------------------


def test_opens_the_demo_world_with_the_map_drawn_by_class(gui):
    app = gui
    assert (W, H) == app.window.get_size()
    zoom_on(app, (300.0, 290.0))
    img = pixels(app)
    rock = screen(app, (320.0, 280.0))
    assert near(tuple(img[rock[1], rock[0]]), ROCK)
    inn = screen(app, (247.0, 252.0))  # inside the inn, away from its walls and doors
    assert near(tuple(img[inn[1], inn[0]]), (178, 153, 114), 20)  # building colour [0.7, 0.6, 0.45]
    empty = screen(app, (290.0, 300.0))
    g = img[empty[1], empty[0]]
    assert g[1] > g[0] and g[1] > g[2]  # terrain: green lowland
    assert "Greenhollow" in app.status.text and "29 entities" in app.status.text
    assert "pig" in [c.strip() for c, _ in app.palette.rows]


def test_place_from_the_palette_with_the_mouse_then_save_as(gui, tmp_path):
    from pyglet.window import key
    app = gui
    zoom_on(app, (300.0, 300.0), scale=12.0)  # a pig (radius 0.5 m) is a disc of 6 pixels
    spot = (289.75, 310.25)  # inside it, off its heading line
    before = colour_at(app, *screen(app, spot))
    assert not near(before, PIG)
    click(app, *palette_row(app, "pig"))
    assert "pig" == app.placing
    x, y = screen(app, (290.3, 309.8))  # snapped to the 2 m grid: (290, 310)
    click(app, x, y)
    assert (290.0, 310.0) == app.doc.entity("pig").pos
    press(app, key.ESCAPE)  # stop placing (the preview under the mouse goes)
    assert app.placing is None
    assert near(colour_at(app, *screen(app, spot)), PIG)
    target = tmp_path / "mine.toml"
    press(app, key.S, key.MOD_CTRL | key.MOD_SHIFT)
    assert app.prompt is not None
    for _ in range(len(app.prompt[1])):
        press(app, key.BACKSPACE)
    type_text(app, str(target))
    press(app, key.RETURN)
    world, problems = load_world(target)
    assert [] == problems
    assert ("pig", (290.0, 310.0)) == (world.entity("pig").cls, world.entity("pig").pos)
    assert not app.doc.dirty and target == app.doc.path


def test_drag_moves_the_selection_on_the_grid_and_undo_puts_it_back(gui):
    from pyglet.window import key
    app = gui
    zoom_on(app, (320.0, 280.0))
    old = screen(app, (320.0, 280.0))
    assert near(colour_at(app, *old), ROCK)
    new_pos = (331.0, 284.6)
    drag(app, old, screen(app, new_pos))
    assert (332.0, 284.0) == app.doc.entity("meadow.rock.1").pos  # the rock lands on the grid
    assert not near(colour_at(app, *old), ROCK)
    assert near(colour_at(app, *screen(app, (332.0, 284.0))), ROCK)
    press(app, key.Z, key.MOD_CTRL)
    assert (320.0, 280.0) == app.doc.entity("meadow.rock.1").pos
    assert near(colour_at(app, *old), ROCK)
    press(app, key.Y, key.MOD_CTRL)
    assert (332.0, 284.0) == app.doc.entity("meadow.rock.1").pos


def test_box_select_then_delete_then_undo(gui):
    from pyglet.window import key
    app = gui
    zoom_on(app, (125.0, 395.0), scale=3.0)
    drag(app, screen(app, (85.0, 340.0)), screen(app, (165.0, 450.0)))
    assert {"forest.wolves"} | {f"forest.tree.0{n}" for n in range(1, 8)} <= set(app.doc.selection)
    count = len(app.doc.selection)
    tree = screen(app, (122.4, 358.1))
    green_tree = colour_at(app, *tree)
    press(app, key.DELETE)
    assert len(app.doc.world.entities) == 29 - count
    assert colour_at(app, *tree) != green_tree
    press(app, key.Z, key.MOD_CTRL)
    assert 29 == len(app.doc.world.entities)
    assert colour_at(app, *tree) == green_tree


def test_shift_click_adds_and_rotate_duplicate_nudge_keys(gui):
    from pyglet.window import key
    app = gui
    zoom_on(app, (255.0, 240.0), scale=8.0)
    click(app, *screen(app, (262.0, 236.0)))
    click(app, *screen(app, (250.0, 232.0)), modifiers=key.MOD_SHIFT)
    assert ["village.trader", "village.spawn"] == app.doc.selection
    press(app, key.R)
    assert [15.0, 15.0] == [e.yaw for e in app.doc.selected()]
    press(app, key.R, key.MOD_SHIFT)
    press(app, key.R, key.MOD_SHIFT)
    assert 345.0 == app.doc.entity("village.trader").yaw
    press(app, key.RIGHT)
    assert (264.0, 236.0) == app.doc.entity("village.trader").pos
    press(app, key.D, key.MOD_CTRL)
    assert ["village.trader.2", "village.spawn.2"] == app.doc.selection
    assert (266.0, 234.0) == app.doc.entity("village.trader.2").pos


def test_inspector_edits_are_type_checked(gui):
    from pyglet.window import key
    app = gui
    app.doc.select(["meadow.pigs"])
    app.draw()
    click(app, *inspector_value(app, "count"))
    assert "count" == app.inspector.editing
    for _ in range(3):
        press(app, key.BACKSPACE)
    type_text(app, "lots")
    press(app, key.RETURN)
    assert "must be a whole number" in app.inspector.error
    assert 5 == app.doc.entity("meadow.pigs").props["count"] and not app.doc.dirty
    for _ in range(4):
        press(app, key.BACKSPACE)
    type_text(app, "8")
    press(app, key.RETURN)
    assert (8, "", None) == (app.doc.entity("meadow.pigs").props["count"], app.inspector.error,
                             app.inspector.editing)
    app.draw()
    row = next(r for r in app.inspector.props if r.key == "count")
    assert ("8", "override") == (row.text, row.source)


def test_inspector_reset_mark_removes_an_override(gui):
    app = gui
    app.doc.select(["meadow.pigs"])
    app.draw()
    x, y = inspector_value(app, "spawn_radius")
    click(app, app.inspector.rect[0] + app.inspector.rect[2] - 8, y)
    assert "spawn_radius" not in app.doc.entity("meadow.pigs").props
    app.draw()
    row = next(r for r in app.inspector.props if r.key == "spawn_radius")
    assert ("10", "from spawner") == (row.text, row.source)


def test_problems_panel_lists_them_and_a_click_shows_the_entity(x_display, tree):
    text = ('[world]\nsize = [200.0, 200.0]\n\n'
            '[[entity]]\nid = "a.rock"\nclass = "rock"\npos = [50.0, 50.0]\n\n'
            '[[entity]]\nid = "b.rock"\nclass = "rock"\npos = [50.5, 50.0]\n\n'
            '[[entity]]\nid = "c"\nclass = "dragon"\npos = [150.0, 150.0]\n')
    app = _open(Document.from_text(text, tree))
    app.draw()
    rows = [r for r, _ in app.problems.rows]
    assert ["line 9: b.rock overlaps a.rock (line 4)", "line 14: c: unknown class 'dragon'"] == rows
    from worldbuilder._draw import FOCUS
    from worldbuilder._panels import ROW
    x, y, w, h = app.problems.rect
    click(app, x + 40, y + h - ROW - 4 - ROW // 2)
    assert ["b.rock"] == app.doc.selection and "b.rock" == app.focus
    vx, vy, vw, vh = app.view.viewport
    assert screen(app, (50.5, 50.0)) == pytest.approx((vx + vw / 2, vy + vh / 2), abs=1)  # centred on it
    img = pixels(app)
    cx, cy = screen(app, (50.5, 50.0))
    around = img[cy - 40:cy + 40, cx - 40:cx + 40].reshape(-1, 3)
    assert any(near(tuple(p), FOCUS[:3], 10) for p in around)  # the focus outline is drawn


def test_f1_shows_and_hides_the_help_page(gui):
    from pyglet.window import key
    app = gui
    centre = (W // 2, H // 2)
    plain = colour_at(app, *centre)
    press(app, key.F1)
    assert app.help.visible
    assert colour_at(app, *centre) != plain
    press(app, key.F1)
    assert colour_at(app, *centre) == plain


def test_saving_the_demo_world_asks_first(x_display, tree, demo_text, tmp_path):
    from pyglet.window import key
    path = tmp_path / "demo_world.toml"
    path.write_text(demo_text)
    app = _open(Document.from_text(demo_text, tree, path=path, protected=True))
    app.doc.place("pig", (10.0, 10.0))
    press(app, key.S, key.MOD_CTRL)
    assert demo_text == path.read_text()
    assert "demo world" in app.status.message
    press(app, key.S, key.MOD_CTRL)
    assert load_world(path)[0].entity("pig") is not None


def test_quit_with_unsaved_changes_asks_first(gui):
    from pyglet.window import key
    app = gui
    app.doc.place("pig", (10.0, 10.0))
    press(app, key.Q, key.MOD_CTRL)
    assert not app.window.has_exit and "unsaved" in app.status.message
    press(app, key.Q, key.MOD_CTRL)
    assert app.window.has_exit


def test_pan_and_zoom_with_the_mouse(gui):
    from pyglet.window import mouse
    app = gui
    x, y = 640, 450
    before = app.view.to_world(x, y)
    send(app, "on_mouse_scroll", x, y, 0, 2)
    assert app.view.to_world(x, y) == pytest.approx(before)
    scale = app.view.scale
    drag(app, (x, y), (x + 100, y - 50), button=mouse.RIGHT)
    assert app.view.to_world(x + 100, y - 50) == pytest.approx(before)
    assert scale == app.view.scale


def test_random_designer_input_never_breaks_the_editor(gui, tmp_path):
    """A monkey at the mouse and keyboard: every event handled, no action fails with an error."""
    from pyglet.window import key, mouse
    app = gui
    rng = random.Random(9)
    keys = [key.R, key.D, key.G, key.DELETE, key.LEFT, key.UP, key.ESCAPE, key.BRACKETLEFT, key.BRACKETRIGHT,
            key.HOME, key.F2, key.Z, key.Y, key.A, key.L, key.TAB, key.RETURN, key.BACKSPACE, key.F5]
    errors = []
    for _ in range(400):
        kind = rng.random()
        x, y = rng.randrange(W), rng.randrange(H)
        if kind < 0.35:
            click(app, x, y, rng.choice([mouse.LEFT, mouse.LEFT, mouse.RIGHT]),
                  rng.choice([0, key.MOD_SHIFT]))
        elif kind < 0.5:
            drag(app, (x, y), (rng.randrange(W), rng.randrange(H)), rng.choice([mouse.LEFT, mouse.MIDDLE]),
                 steps=3)
        elif kind < 0.6:
            send(app, "on_mouse_scroll", x, y, 0, rng.choice([-1, 1]))
        elif kind < 0.9:
            press(app, rng.choice(keys), rng.choice([0, 0, key.MOD_CTRL, key.MOD_SHIFT]))
        else:
            type_text(app, rng.choice(["12", "x", "-3.5", "[1, 2]", "true", "wolf", "é"]))
        if app.status.message.startswith("that did not work"):
            errors.append(app.status.message)
        app.draw()
    assert [] == errors
    app.prompt = None
    app.inspector.editing = None
    text = app.doc.text()
    again = Document.from_text(text, app.doc.tree)
    assert [] == again.load_problems
    assert text == again.text()
