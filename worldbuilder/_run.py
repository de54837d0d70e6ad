"""``spenefett worldbuilder``: check the arguments, open the world, then the window.

Kept apart from :mod:`worldbuilder.app` because importing pyglet's window
and shapes needs a display: without one, the command says so and exits 2
instead of ending in a traceback. So do a missing file and live mode
without an account.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gamelogic.worldfile import DEMO_WORLD
from worldbuilder._files import open_document
from worldbuilder._link import LiveLink
from worldbuilder._live import LiveWorld


def run(path: str | Path | None = None, *, live: str | None = None, account: str | None = None,
        password: str | None = None, character: str | None = None) -> int:
    """Open the worldbuilder on ``path`` (the demo world by default) and run until the window closes."""
    path = Path(path) if path is not None else DEMO_WORLD
    if live and (not account or password is None):
        return _fail("--live needs --account and --password (or $SPENEFETT_PASSWORD)")
    if live and ":" not in live:
        return _fail(f"--live wants HOST:PORT, got {live!r}")
    try:
        doc = open_document(path)
    except OSError as exc:
        return _fail(f"cannot open {path}: {exc.strerror or exc}")
    try:
        import pyglet

        from worldbuilder.app import WorldbuilderApp
        window = pyglet.window.Window(1400, 860, caption=f"Spenefett worldbuilder: {path.name}",
                                      resizable=True)
    except Exception as exc:  # no display, no GL: say so plainly
        return _fail(f"cannot open a window ({type(exc).__name__}: {exc}); is DISPLAY set?")
    link = None
    if live:
        link = LiveLink(live, account or "", password or "", LiveWorld(), character=character)
        link.start()
    app = WorldbuilderApp(doc, window, link=link)
    pyglet.clock.schedule_interval(app.tick, 1 / 30)
    pyglet.app.run()
    if window.context is not None:
        window.close()
    return 0


def _fail(message: str) -> int:
    print(f"spenefett worldbuilder: {message}", file=sys.stderr)
    return 2
