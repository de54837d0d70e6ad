"""NodeAgent: a node's voice toward the GLD.

Every node runs one. It says hello to the GLD (its role, where its
transport listens, role-specific facts such as a client port) when it
starts and again every ``hello_interval`` seconds, so a GLD that restarts
rebuilds its directory within one interval. It answers ``StatusRequest``
with the engine's status, and says goodbye when the node stops cleanly.

Settings: ``role``, ``address`` (the transport's endpoint), ``gld_node``
(default 1), ``hello_interval`` (s, default 2), ``extra`` (a table sent with
the hello).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from engine.control import Goodbye, NodeHello, StatusReply, StatusRequest
from engine.dispatch import handles
from engine.engine import RoutingError
from engine.guid import WellKnown, module_guid
from engine.modules._module import Module


class NodeAgent(Module):
    kind = "agent"
    well_known = int(WellKnown.NODE)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.role = str(s.get("role", "node"))
        self.address = str(s.get("address", ""))
        self.gld_node = int(s.get("gld_node", 1))
        self.hello_interval = float(s.get("hello_interval", 2.0))
        self.extra = dict(s.get("extra", {}))
        self._last_hello = float("-inf")

    @property
    def gld(self) -> int:
        return module_guid(self.gld_node, WellKnown.GLD)

    def tick(self) -> None:
        now = self.engine.clock.now()
        if now - self._last_hello >= self.hello_interval:
            self._last_hello = now
            self._learn_bound_addresses()
            self._send_quietly(NodeHello(self.gld, self.guid, self.role, self.address, os.getpid(),
                                         self.extra))

    def _learn_bound_addresses(self) -> None:
        """Take the endpoints the node's modules bound (port 0 or ``:*``: a port the kernel picked)."""
        for m in self.engine.modules:
            if m.kind == "transport" and (not self.address or self.address.endswith(":*")):
                address = str(getattr(m, "address", "") or "")
                if address and not address.endswith(":*"):
                    self.address = address
            elif m.kind == "network" and "clients" not in self.extra and getattr(m, "port", 0):
                self.extra["clients"] = f"{m.host}:{m.port}"  # type: ignore[attr-defined]

    def stop(self) -> None:
        # queued now, flushed by the transport as it stops (it stops after us: reverse order)
        self._send_quietly(Goodbye(self.gld, self.guid, "stopping"))

    @handles(StatusRequest)
    def on_status_request(self, msg: StatusRequest) -> None:
        status = self.engine.status()
        status["role"] = self.role
        status["address"] = self.address
        status["extra"] = self.extra
        self._send_quietly(StatusReply(msg.frm, self.guid, msg.serial, status))

    def _send_quietly(self, message: Any) -> None:
        try:
            self.send(message)
        except RoutingError as exc:
            self.log.warning("%s: %s", type(message).__name__, exc)
