"""A tool node: how ``spenefett status``, the cluster's health view and tests talk to a cluster.

It is a real node (an Engine with a transport and an agent, node id from the
tool range) that says hello to the GLD, learns the directory and asks nodes
for their status. It is ticked by hand from the caller's loop::

    with ToolNode(gld="tcp://127.0.0.1:7100") as tool:
        directory = tool.wait_for_directory(timeout=5)
        statuses = tool.statuses(timeout=2)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from engine.control import NodeDied, StatusReply, StatusRequest
from engine.dispatch import handles
from engine.engine import Engine, RoutingError
from engine.guid import NodeKind, WellKnown, module_guid
from engine.messages import Message
from engine.modules import Module
from engine.modules.agent import NodeAgent
from engine.modules.transport import TransportModule
from nodes.runner import DEFAULT_GLD_ADDRESS, DEFAULT_GLD_NODE


class _Collector(Module):
    """Keeps the replies and news a tool asked for."""

    def __init__(self, name: str):
        super().__init__(name)
        self.replies: dict[int, dict[str, Any]] = {}
        self.died: list[NodeDied] = []
        self.other: list[Message] = []

    @handles(StatusReply)
    def on_reply(self, msg: StatusReply) -> None:
        self.replies[msg.serial] = msg.status

    @handles(NodeDied)
    def on_died(self, msg: NodeDied) -> None:
        self.died.append(msg)

    def unhandled(self, message: Any) -> None:
        self.other.append(message)


class ToolNode:
    """A node that observes a cluster; tick it by calling its methods."""

    def __init__(self, gld: str = DEFAULT_GLD_ADDRESS, *, node_id: int | None = None,
                 gld_node: int = DEFAULT_GLD_NODE, tick_rate: float = 50.0):
        if node_id is None:
            node_id = NodeKind.TOOL.first + os.getpid() % (NodeKind.TOOL.last - NodeKind.TOOL.first)
        listen = "tcp://127.0.0.1:*"  # ZeroMQ binds a port the kernel picks: no pick-then-bind race
        if "://" not in gld:  # "host:port" as people type it
            gld = f"tcp://{gld}"
        self.engine = Engine(node_id, tick_rate=tick_rate)
        self.transport = TransportModule("transport", {
            "listen": listen, "peers": {gld_node: gld}, "gld_node": gld_node})
        self.engine.add_module(self.transport)
        # the agent announces the endpoint the transport binds
        self.engine.add_module(NodeAgent("agent", {"role": "tool", "gld_node": gld_node}))
        self.collector = _Collector("collector")
        self.engine.add_module(self.collector)
        for a, b in (("transport", "agent"), ("agent", "transport"), ("transport", "collector"),
                     ("collector", "transport")):
            self.engine.connect(a, b)
        self.engine.set_transport("transport")
        self.gld_node = gld_node
        self._serial = 0
        self.directory: list[list[Any]] = []
        self.engine.start()

    def __enter__(self) -> ToolNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.stop()

    def pump(self, seconds: float) -> None:
        """Tick for ``seconds`` of wall time."""
        end = time.perf_counter() + seconds
        while True:
            self.engine.tick_once()
            if time.perf_counter() >= end:
                return
            time.sleep(self.engine.period)

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            self.engine.tick_once()
            if condition():
                return True
            time.sleep(self.engine.period)
        return condition()

    def refresh_directory(self, timeout: float = 2.0) -> list[list[Any]]:
        """Ask the GLD for the directory: rows ``[node, role, address, alive, extra]``, tools left out."""
        replies = self.statuses([self.gld_node], timeout=timeout, target=WellKnown.GLD)
        if self.gld_node in replies:
            self.directory = [list(r) for r in replies[self.gld_node].get("directory", [])
                              if r[1] != "tool"]
        return self.directory

    def wait_for_directory(self, timeout: float = 5.0, *, min_nodes: int = 1) -> list[list[Any]]:
        """Poll the GLD until at least ``min_nodes`` live nodes are listed (or the timeout)."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            rows = self.refresh_directory(timeout=min(1.0, max(0.05, end - time.perf_counter())))
            if len([r for r in rows if r[3]]) >= min_nodes:
                break
        return self.directory

    def request_status(self, node: int, target: int = WellKnown.NODE) -> int:
        """Ask a node's agent (or another well-known module) for its status; returns the serial."""
        self._serial += 1
        with contextlib.suppress(RoutingError):  # an unknown node simply never answers
            self.collector.send(StatusRequest(module_guid(node, target), self.collector.guid,
                                              self._serial))
        return self._serial

    def statuses(self, nodes: list[int] | None = None, timeout: float = 2.0,
                 target: int = WellKnown.NODE) -> dict[int, dict[str, Any]]:
        """Status of each node (all live ones in the directory by default); silent nodes are absent."""
        if nodes is None:
            nodes = [int(r[0]) for r in self.directory if r[3]]
        serials = {self.request_status(n, target): n for n in nodes}
        self.wait_for(lambda: all(s in self.collector.replies for s in serials), timeout)
        return {n: self.collector.replies.pop(s) for s, n in serials.items()
                if s in self.collector.replies}

    def send(self, message: Message) -> None:
        self.collector.send(message)
