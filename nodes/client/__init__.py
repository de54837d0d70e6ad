"""The client node: the world mirror, the login-to-world session, and the game client's modules.

``WorldMirror`` (what the client knows of the world), ``Session`` (the
way from the login screen into the world and back) and ``GameClient``
(the headless client the bots run) are the public faces; the window's
modules (input, render, sound) load pyglet only when they start. See
docs/client.md.
"""

from nodes.client.headless_game import GameClient
from nodes.client.mirror import Entity, Event, LogLine, WorldMirror
from nodes.client.session import Link, Phase, Session

__all__ = ["Entity", "Event", "GameClient", "Link", "LogLine", "Phase", "Session", "WorldMirror"]
