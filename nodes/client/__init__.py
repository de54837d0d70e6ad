"""The client node: the world mirror, the login-to-world session, and the game client's modules.

``WorldMirror`` (what the client knows of the world) and ``GameClient``
(the headless client the bots run) are the public faces; see docs/client.md.
"""

from nodes.client.mirror import Entity, Event, LogLine, WorldMirror

__all__ = ["Entity", "Event", "LogLine", "WorldMirror"]
