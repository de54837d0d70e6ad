"""Plays the windowed client with scripted keyboard input, in its own process (on the test's X display).

    python window_driver.py SCENARIO LOGIN_ADDRESS OUT_DIR

Key presses and typed text go through the real window's event dispatch
to the input module, exactly as X events would. Each step's screenshot
is saved to OUT_DIR as a .npy array; what the client knew at each step
goes to OUT_DIR/report.json for the test to check. Scenarios: ``play``
(log in through the screens, create a character, walk, target and attack
a pig, talk and chat, leave) and ``bad_server`` (a login server that
answers garbage).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from engine.login.messages import SetPosition
from nodes.client.app import build_client
from nodes.client.session import Phase


class Driver:
    def __init__(self, login: str, out: Path):
        self.out = out
        self.engine = build_client(login, width=800, height=500)
        self.engine.start()
        self.render = self.engine.module("render")
        self.game = self.engine.module("game")
        self.input = self.engine.module("input")
        self.report: dict = {"steps": {}}
        from pyglet.window import key

        self.key = key

    @property
    def window(self):
        return self.render.window

    @property
    def mirror(self):
        return self.game.mirror

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.engine.tick_once()
            time.sleep(0.005)

    def until(self, test, seconds: float = 20.0) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick()
            if test():
                return True
        return False

    def press(self, symbol: int, hold_ticks: int = 1) -> None:
        self.window.dispatch_event("on_key_press", symbol, 0)
        self.tick(hold_ticks)
        self.window.dispatch_event("on_key_release", symbol, 0)
        self.tick()

    def type(self, text: str) -> None:
        for ch in text:
            self.window.dispatch_event("on_text", ch)
        self.tick()

    def shot(self, name: str, **facts) -> None:
        image = self.render.screenshot()
        np.save(self.out / f"{name}.npy", image)
        session = self.game.session
        self.report["steps"][name] = {
            "phase": session.phase.value, "error": session.error, "status": session.status,
            "me": self.mirror.me, "position": list(self.mirror.my_position()),
            "server_position": list(self.mirror.my_server_position() or []),
            "target": self.input.target, "log": [line.text for line in self.mirror.log][-12:],
            "entities": len(self.mirror.entities), **facts}

    def finish(self) -> None:
        self.report["module_errors"] = {m.name: m.errors for m in self.engine._modules}
        self.report["sound"] = self.engine.module("sound").status()
        self.report["frames"] = self.render.frames
        self.report["counts"] = dict(self.mirror.counts)
        (self.out / "report.json").write_text(json.dumps(self.report, indent=1))
        self.engine.stop()


def play(d: Driver, stamp: str) -> None:
    k = d.key
    session = d.game.session
    d.until(lambda: session.status == "" and session.phase is Phase.LOGIN, 10)
    d.shot("login")
    account, character = f"win{stamp}", f"Hero{stamp}"
    d.type(account)
    d.press(k.TAB)
    d.type("correct horse battery")
    d.shot("login_typed")
    d.press(k.F2)  # create the account (then the session logs in)
    d.until(lambda: session.phase is Phase.CHARACTERS, 20)
    d.shot("characters_empty")
    d.press(k.N)
    d.type(character)
    d.press(k.ENTER)
    d.until(lambda: bool(session.characters), 20)
    d.shot("characters", characters=session.characters)
    d.press(k.ENTER)
    d.until(lambda: session.phase is Phase.WORLD and d.mirror.terrain is not None
            and any(d.mirror.is_a(e, "building") for e in d.mirror.entities.values()), 30)
    d.tick(30)
    d.until(lambda: d.mirror.stats.get("max_health") == 100, 10)
    d.shot("world")
    # walk forward for about two seconds of game time
    d.window.dispatch_event("on_key_press", k.W, 0)
    d.tick(120)
    d.window.dispatch_event("on_key_release", k.W, 0)
    d.until(lambda: False, 1.0)
    d.shot("walked")
    # a pig: go to the pig spawner (the login issue's teleport, for tests), target it, attack
    session.act(SetPosition(0, d.mirror.me, 300.0, 292.0, 0.0))
    d.until(lambda: d.mirror.nearest(*d.mirror.my_position()[:2], kind="pig", within=40.0) is not None, 20)
    d.until(lambda: False, 0.5)
    d.shot("before_target")
    d.window.dispatch_event("on_key_press", k.Q, 0)  # turn until a plate is on screen
    for _ in range(200):  # 2 degrees a tick: a whole turn and more
        d.tick()
        if d.render.on_screen():
            break
    d.window.dispatch_event("on_key_release", k.Q, 0)
    d.tick(3)
    plates = d.render.on_screen()
    for _ in range(200):  # a pig wanders: if it left the screen meanwhile, turn on until one is back
        if plates:
            break
        d.window.dispatch_event("on_key_press", k.Q, 0)
        d.tick()
        d.window.dispatch_event("on_key_release", k.Q, 0)
        d.tick()
        plates = d.render.on_screen()
    clicked = 0
    if plates:
        guid, x, y = plates[0]
        d.window.dispatch_event("on_mouse_press", int(x), int(y), 1, 0)  # the left button
        d.tick()
        clicked = d.input.target if d.input.target == guid else -guid
    d.press(k.TAB)
    d.tick(5)
    d.shot("targeted", target_class=getattr(d.mirror.entity(d.input.target), "cls", ""), clicked=clicked,
           plates=len(plates), yaw=d.input.yaw)
    d.press(k._1)
    hit = False
    for _ in range(25):
        target = d.mirror.entity(d.input.target)
        if target is None or target.dead:
            d.press(k.TAB)
            target = d.mirror.entity(d.input.target)
            if target is None:
                d.until(lambda: False, 0.5)
                continue
        x, y = target.last[:2]
        session.act(SetPosition(0, d.mirror.me, x - 1.2, y, 0.0))
        d.until(lambda: False, 0.3)
        d.press(k.F)
        d.until(lambda: any(line.text.startswith("You hit") for line in d.mirror.log), 1.3)
        if any(line.text.startswith("You hit") for line in d.mirror.log):
            hit = True
            break
    d.tick(3)
    d.shot("fought", hit=hit)
    d.press(k.ENTER)
    d.type("hello from the window")
    d.press(k.ENTER)
    d.press(k.ENTER)
    d.type(f"/g global {stamp}")
    d.press(k.ENTER)
    d.until(lambda: any(line.kind == "chat" and stamp in line.text for line in d.mirror.log), 10)
    d.until(lambda: any("hello from the window" in line.text for line in d.mirror.log), 5)
    d.shot("chatted")
    d.press(k.ESCAPE)
    d.until(lambda: session.phase is Phase.CHARACTERS, 20)
    d.shot("left")


def bad_server(d: Driver, stamp: str) -> None:
    session = d.game.session
    d.until(lambda: bool(session.error), 15)
    d.tick(10)
    d.shot("refused")
    d.until(lambda: False, 2.5)  # it retries, and meets the garbage again; still running
    d.shot("retried")


def bad_world(d: Driver, stamp: str) -> None:
    """The server's messages with odd content, fed to a client in the world: it draws on."""
    from engine.guid import Guid
    from engine.login.messages import EnteredWorld
    from gamelogic import operations as ops

    session = d.game.session
    d.until(lambda: session.phase is Phase.OFFLINE, 15)  # nobody listens at the login address
    session.phase = Phase.WORLD
    me, dragon = 0x0001_0000_0010_0001, 0x0001_0000_0020_0001
    world = {"guid": 0, "id": "world", "class": "world", "name": "odd", "pos": [0.0, 0.0, 0.0], "yaw": 0.0,
             "health": 0, "max_health": 0, "props": {"size": [256.0, 256.0], "cell_size": 8.0, "base": 0.0,
                                                     "hills": [[100.0, 100.0, 40.0, 6.0]]}}
    character = {"character": {"name": "Odd", "position": [100.0, 90.0, 0.0]}}
    d.mirror.apply([ops.Sight(Guid(0), Guid(0), entity=world),
                    EnteredWorld(Guid(0), Guid(0), Guid(me), character)], d.engine.time)
    d.tick(5)
    d.shot("plain")
    d.mirror.apply([
        ops.Sight(Guid(0), Guid(dragon), entity={"guid": dragon, "class": "dragon", "name": "Smaug",
                                                 "pos": [106.0, 90.0, 0.0], "health": 900,
                                                 "max_health": 900}),
        ops.Sight(Guid(0), Guid(0), entity={"guid": 7, "class": "pig", "pos": ["x", None]}),
        ops.Moves(Guid(0), Guid(0), updates=ops.pack_moves([[424242, 1.0, 2.0, 3.0, 0.0],
                                                            [dragon, 107.0, 90.0, 0.0, 90.0],
                                                            [me, float("nan"), 0.0, 0.0, 0.0]])),
        ops.Moves(Guid(0), Guid(0), updates=b"junk"),
        ops.Set(Guid(0), Guid(0), target=Guid(99), props={"open": True}),
        ops.Hit(Guid(0), Guid(0), target=Guid(dragon), attacker=Guid(me), damage=5, health=895, what="?"),
    ], d.engine.time)
    d.tick(20)
    d.shot("odd", dragon=d.mirror.entity(dragon).cls if d.mirror.entity(dragon) else "")


def main(argv: list[str]) -> int:
    scenario, login, out = argv[0], argv[1], Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    d = Driver(login, out)
    stamp = "".join(chr(ord("a") + int(c)) for c in str(time.monotonic_ns() // 1000)[-7:])
    try:
        {"play": play, "bad_server": bad_server, "bad_world": bad_world}[scenario](d, stamp)
    finally:
        d.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
