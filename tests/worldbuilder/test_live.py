"""Live mode end to end: a real cluster, a designer account editing the running world, a bot watching.

The designer goes through the worldbuilder's own LiveLink (login, a
character, the world link) and LiveWorld; the bot is a plain headless
player. Every wait is bounded, and fails with what was seen instead.
"""

import io
import itertools
import math
import time

import pytest

from engine.login.messages import AccountCreated, CharacterList, EnteredWorld, LoginOk
from engine.persistence import open_store
from gamelogic.operations import Create, Delete, Info, Set, Sight
from nodes.cluster import Cluster
from nodes.headless import HeadlessClient
from nodes.runner import free_tcp_port
from worldbuilder import EditState, LiveLink, LiveWorld, save_document

PASSWORD = "correct horse battery"
SPAWN = (250.0, 232.0)  # the demo world's spawn point: where the bot stands
_names = (f"Builder {chr(ord('a') + i)}" for i in itertools.count())


class _World:
    def __init__(self, tmp):
        self.db = tmp / "world.db"
        self.cluster = Cluster(gld_port=free_tcp_port(), run_dir=tmp / "run", out=io.StringIO(),
                               ephemeral_ports=True,
                               extra_args={"persistence": ["--set", f"persistence.url=sqlite:///{self.db}"]})

    @property
    def login_address(self):
        rows = self.cluster.tool.refresh_directory()
        return next(r[4]["clients"] for r in rows if r[1] == "login" and r[3])

    def account(self, roles=()):
        """A new account (with ``roles``) and its name."""
        name = next(_names)
        client = HeadlessClient(self.login_address)
        assert isinstance(client.create_account(name, PASSWORD), AccountCreated)
        client.close()
        if roles:
            with open_store(f"sqlite:///{self.db}") as store:
                store.set_roles(store.get_account(name).account_id, list(roles))
        return name


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = _World(tmp_path_factory.mktemp("live"))
    w.cluster.start(timeout=30)
    try:
        yield w
    finally:
        w.cluster.stop()


def until(test, what, timeout=20.0, pump=None):
    """Pump until ``test()`` is true; fail with ``what()`` if it never is."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pump is not None:
            pump()
        found = test()
        if found:
            return found
        time.sleep(0.01)
    pytest.fail(f"gave up waiting: {what()}")


def designer(world):
    name = world.account(roles=["designer"])
    live = LiveWorld()
    link = LiveLink(world.login_address, name, PASSWORD, live, retry_after=3600)
    link.start()
    pump = lambda: link.poll(time.monotonic())  # noqa: E731
    until(lambda: link.state == "connected", lambda: f"designer link {link.state}: {link.reason}", pump=pump)
    until(lambda: live.entities, lambda: "the designer was sent no Sight at all", pump=pump)
    return link, live, pump


def player(world):
    name = world.account()
    client = HeadlessClient(world.login_address)
    assert isinstance(client.login(name, PASSWORD), LoginOk)
    listed = client.create_character(f"{name} Hero")
    assert isinstance(listed, CharacterList), listed
    entered = client.enter_world(listed.characters[0][0])
    assert isinstance(entered, EnteredWorld), entered
    return client


def settle(live, op, pump, what):
    until(lambda: live.edits[op.serialno - 1].state in (EditState.DONE, EditState.REFUSED),
          lambda: f"no Info for {what}: {live.edits[op.serialno - 1].describe()}", pump=pump)
    return live.edits[op.serialno - 1]


def test_designer_sees_the_whole_world(world):
    link, live, pump = designer(world)
    try:
        until(lambda: live.by_world_id("forest.wolves") and live.by_world_id("meadow.pigs"),
              lambda: f"world ids seen: {sorted(e.id for e in live.entities.values() if e.id)}", pump=pump)
        far = live.by_world_id("forest.wolves")  # 190 m from the spawn point: beyond a player's sight
        assert "spawner" == far.cls
        assert (140.0, 400.0) == pytest.approx(far.pos[:2])
    finally:
        link.close()


def test_a_spawner_placed_live_makes_npcs_a_bot_sees(world, doc, tmp_path):
    link, live, pump = designer(world)
    bot = player(world)
    try:
        where = (SPAWN[0] + 6.0, SPAWN[1] - 6.0)
        op = live.create("spawner", where, {"spawns": "pig", "count": 2, "spawn_radius": 3.0},
                         "test.live_pigs")
        link.send(op)
        edit = settle(live, op, pump, "the Create")
        assert EditState.DONE == edit.state, edit.describe()
        until(lambda: live.by_world_id("test.live_pigs"), lambda: "no Sight of the new spawner", pump=pump)

        def pig_near():
            for m in bot.world.inbox.messages:
                if isinstance(m, Sight) and isinstance(m.entity, dict) and m.entity.get("class") == "pig":
                    x, y = m.entity["pos"][:2]
                    if math.hypot(x - where[0], y - where[1]) <= 3.0 + 2.0:
                        return m.entity
            return None

        pig = until(pig_near, lambda: f"bot saw {[type(m).__name__ for m in bot.world.inbox.messages][-20:]}",
                    pump=bot.world.pump)
        assert "" == pig["id"]  # an NPC: not a world-file entity

        applied, notes = live.export_to(doc)  # back to the world file
        assert (1, []) == (applied, notes)
        path = save_document(doc, tmp_path / "exported.toml")
        assert '[[entity]]\nid = "test.live_pigs"\nclass = "spawner"' in path.read_text()

        spawner = live.by_world_id("test.live_pigs")
        op = live.set(spawner.guid, {"count": 3})
        link.send(op)
        assert EditState.DONE == settle(live, op, pump, "the Set").state
        until(lambda: live.by_world_id("test.live_pigs").props.get("count") == 3,
              lambda: f"spawner props {live.by_world_id('test.live_pigs').props}", pump=pump)

        op = live.delete(spawner.guid)
        link.send(op)
        assert EditState.DONE == settle(live, op, pump, "the Delete").state
        until(lambda: live.by_world_id("test.live_pigs") is None, lambda: "the spawner never disappeared",
              pump=pump)
    finally:
        bot.close()
        link.close()


def test_a_player_account_is_refused(world):
    link, live, pump = designer(world)
    bot = player(world)
    try:
        rock = until(lambda: live.by_world_id("meadow.rock.1"), lambda: "no Sight of the meadow rock",
                     pump=pump)
        pig = {"id": "test.not_allowed", "class": "pig", "pos": [250.0, 230.0], "props": {}}
        tries = [Create(to=bot.avatar, frm=bot.avatar, serialno=41, entity=pig),
                 Set(to=bot.avatar, frm=bot.avatar, serialno=42, target=rock.guid, props={"radius": 9.0}),
                 Delete(to=bot.avatar, frm=bot.avatar, serialno=43, target=rock.guid)]
        for op in tries:
            bot.world.send(op)
        for serial in (41, 42, 43):
            info = bot.world.wait(lambda m, s=serial: isinstance(m, Info) and m.refno == s, timeout=20)
            assert info is not None, f"no Info for the player's operation {serial}"
            assert info.text.startswith("refused:"), info.text
        pump()
        assert live.by_world_id("test.not_allowed") is None
        assert live.by_world_id("meadow.rock.1") is not None
        assert 9.0 != live.by_world_id("meadow.rock.1").props.get("radius")
    finally:
        bot.close()
        link.close()


def test_the_window_in_live_mode_places_a_spawner_and_exports_it(world, x_display, doc):
    import numpy as np
    import pyglet
    from pyglet.window import key, mouse

    from worldbuilder.app import WorldbuilderApp
    link, live, _ = designer(world)
    window = pyglet.window.Window(1280, 800, visible=True)
    try:
        app = WorldbuilderApp(doc, window, link=link)
        assert "live" == app.target
        app.view.scale = 6.0
        app.view.centre_on(*SPAWN)

        def send(*event):
            window.dispatch_event(*event)
            window.dispatch_events()

        x, y, w, h = app.palette.rect
        row = app.classes.index("spawner")
        for event in ("on_mouse_press", "on_mouse_release"):
            send(event, 30, y + h - 20 - (row + 1) * 16 + 8, mouse.LEFT, 0)
        spot = (SPAWN[0] - 10.0, SPAWN[1] + 10.0)
        sx, sy = (round(v) for v in app.view.to_screen(*spot))
        for event in ("on_mouse_press", "on_mouse_release"):
            send(event, sx, sy, mouse.LEFT, 0)
        send("on_key_press", key.ESCAPE, 0)
        assert live.edits, app.status.message
        edit = live.edits[-1]
        assert ("create", "spawner", [spot[0], spot[1]]) == (edit.kind, edit.cls, edit.props["pos"])
        until(lambda: edit.state is EditState.DONE, lambda: edit.describe(), pump=app.tick)
        until(lambda: live.by_world_id(edit.world_id), lambda: "no Sight of the placed spawner",
              pump=app.tick)
        app.draw()
        image = pyglet.image.get_buffer_manager().get_color_buffer().get_image_data()
        data = image.get_data("RGB", image.width * 3)
        img = np.frombuffer(data, np.uint8).reshape(image.height, image.width, 3)
        assert tuple(img[sy, sx]) == pytest.approx((255, 127, 0), abs=12)  # the spawner colour, drawn live
        assert doc.entity(edit.world_id) is None  # the file is not touched by live edits...
        send("on_key_press", key.E, key.MOD_CTRL)  # ...until they are exported
        assert ("spawner", spot) == (doc.entity(edit.world_id).cls, doc.entity(edit.world_id).pos)
        assert doc.dirty
    finally:
        link.close()
        if window.context is not None:
            window.close()


def test_edits_made_while_the_connection_is_lost_are_kept_and_sent_after_it_is_back(world):
    """Last in this file: it kills the gamelogic node (the cluster starts it again)."""
    link, live, pump = designer(world)
    link.retry_after = 0.5
    gamelogic = next(n for n in world.cluster.nodes if n.role == "gamelogic")
    gamelogic.process.kill()
    until(lambda: link.state != "connected", lambda: "the designer never noticed the node die", pump=pump)
    op = live.create("spawner", (SPAWN[0] + 20.0, SPAWN[1]), {"spawns": "pig", "count": 1}, "test.after_loss")
    assert op is None  # not connected: queued, not sent
    edit = live.edits[-1]
    assert EditState.QUEUED == edit.state
    assert [edit] == live.open_edits()

    def supervise_and_pump():
        world.cluster.check_processes()
        pump()

    until(lambda: edit.state is not EditState.QUEUED and link.state == "connected",
          lambda: f"link {link.state} ({link.reason}); {edit.describe()}", timeout=90,
          pump=supervise_and_pump)
    assert EditState.DONE == settle(live, edit, pump, "the resent Create").state
    until(lambda: live.by_world_id("test.after_loss"), lambda: "no Sight of the spawner sent after the loss",
          pump=pump)
    link.close()
