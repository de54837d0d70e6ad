"""The GamelogicDistributor (GLD): the cluster's directory, relay and chat hub.

- **Directory and liveness.** Nodes say hello (``NodeHello``) when they
  start and every few seconds after; the GLD keeps who is where and sends
  the whole directory to every transport whenever it changes, so nodes find
  each other and then talk directly. A node its transport declares dead
  (``PeerDown``) is marked dead and the others are told (``NodeDied``); a
  node that says ``Goodbye`` leaves the directory.
- **Relay.** ``Relay(target, message)`` is forwarded to the transport of the
  target's node, which decodes and delivers it: a gamelogic node that does
  not know where an addressee lives sends through the GLD.
- **Global chat.** ``ChatJoin``/``ChatLeave`` keep channel membership;
  ``ChatSay`` is fanned out to every listener as ``ChatHeard``.
- **Status.** ``StatusRequest`` to the GLD answers with the directory.

- **Placement.** ``PlacePlayer`` from a login node puts a character on the
  gamelogic node with the fewest players (after the account's old node
  saved and dropped it, if it was in the world); see :mod:`nodes.placement`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from engine.control import (
    ChatHeard,
    ChatJoin,
    ChatLeave,
    ChatSay,
    Directory,
    Forwarded,
    Goodbye,
    NodeDied,
    NodeHello,
    PeerDown,
    PeerUp,
    Relay,
    StatusReply,
    StatusRequest,
    WatchPeers,
)
from engine.dispatch import handles
from engine.engine import RoutingError
from engine.guid import WellKnown, module_guid, node_of
from engine.login.messages import LeaveWorld, PlacePlayer, PlayerExpected, PlayerLeft
from engine.modules import Module
from nodes.placement import Placement


@attrs.define
class NodeEntry:
    node: int
    role: str
    address: str
    pid: int
    alive: bool = True
    extra: dict[str, Any] = attrs.Factory(dict)
    last_hello: float = 0.0

    def row(self) -> list[Any]:
        return [self.node, self.role, self.address, self.alive, self.extra]


class GLDModule(Module):
    kind = "gld"
    well_known = int(WellKnown.GLD)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.directory: dict[int, NodeEntry] = {}
        self.channels: dict[str, set[int]] = {}
        self.relayed = 0
        self._directory_changed = False
        self.placement = Placement(0, timeout=float(self.settings.get("placement_timeout", 5.0)))

    def start(self) -> None:
        self.placement.me = self.guid
        self._send(WatchPeers(module_guid(self.node_id, WellKnown.TRANSPORT), self.guid))

    # -- directory ------------------------------------------------------------------------

    @handles(NodeHello)
    def on_hello(self, msg: NodeHello) -> None:
        node = node_of(msg.frm)
        entry = self.directory.get(node)
        now = self.engine.clock.now()
        if entry is None or (entry.address, entry.role, entry.pid, entry.extra, entry.alive) != (
                msg.address, msg.role, msg.pid, msg.extra, True):
            if entry is not None and entry.pid != msg.pid and entry.role == "gamelogic":
                self._send_all(self.placement.node_gone(node, self.directory, now))  # restarted
            if entry is None:
                self.log.info("node %d (%s) joined at %s", node, msg.role, msg.address)
            elif not entry.alive:
                self.log.info("node %d (%s) is back at %s", node, msg.role, msg.address)
            self.directory[node] = NodeEntry(node, msg.role, msg.address, msg.pid, True,
                                             dict(msg.extra), now)
            self._directory_changed = True
        else:
            entry.last_hello = now

    @handles(Goodbye)
    def on_goodbye(self, msg: Goodbye) -> None:
        node = node_of(msg.frm)
        if self.directory.pop(node, None) is not None:
            self.log.info("node %d left: %s", node, msg.reason)
            self._forget_listeners_on(node)
            self._directory_changed = True
            self._send_all(self.placement.node_gone(node, self.directory, self.engine.clock.now()))

    @handles(PeerDown)
    def on_peer_down(self, msg: PeerDown) -> None:
        entry = self.directory.get(msg.node)
        if entry is None or not entry.alive:
            return
        entry.alive = False
        self.log.warning("node %d (%s) is dead: %s", msg.node, entry.role, msg.reason)
        self._directory_changed = True
        self._send_all(self.placement.node_gone(msg.node, self.directory, self.engine.clock.now()))
        for other in self.directory.values():
            if other.alive and other.node != self.node_id:
                self._send(NodeDied(module_guid(other.node, WellKnown.NODE), self.guid, msg.node,
                                    entry.role, msg.reason))

    @handles(PeerUp)
    def on_peer_up(self, msg: PeerUp) -> None:
        entry = self.directory.get(msg.node)
        if entry is not None and not entry.alive:
            entry.alive = True
            self._directory_changed = True

    # -- placement -------------------------------------------------------------------------

    @handles(PlacePlayer)
    def on_place_player(self, msg: PlacePlayer) -> None:
        self._send_all(self.placement.place(msg, self.directory, self.engine.clock.now()))

    @handles(PlayerExpected)
    def on_player_expected(self, msg: PlayerExpected) -> None:
        self._send_all(self.placement.expected(msg, self.directory, self.engine.clock.now()))

    @handles(LeaveWorld)
    def on_leave_world(self, msg: LeaveWorld) -> None:
        self._send_all(self.placement.leave(msg, self.directory, self.engine.clock.now()))

    @handles(PlayerLeft)
    def on_player_left(self, msg: PlayerLeft) -> None:
        self._send_all(self.placement.left(msg, self.directory, self.engine.clock.now()))

    def tick(self) -> None:
        self._send_all(self.placement.tick(self.directory, self.engine.clock.now()))
        if self._directory_changed:
            self._directory_changed = False
            self._broadcast_directory()

    def _broadcast_directory(self) -> None:
        rows = [e.row() for e in sorted(self.directory.values(), key=lambda e: e.node)]
        targets = {self.node_id} | {e.node for e in self.directory.values() if e.alive}
        for node in sorted(targets):
            self._send(Directory(module_guid(node, WellKnown.TRANSPORT), self.guid, rows, True))

    # -- relay and chat ------------------------------------------------------------------

    @handles(Relay)
    def on_relay(self, msg: Relay) -> None:
        self.relayed += 1
        transport = module_guid(node_of(msg.target), WellKnown.TRANSPORT)
        self._send(Forwarded(transport, self.guid, msg.message))

    @handles(ChatJoin)
    def on_chat_join(self, msg: ChatJoin) -> None:
        self.channels.setdefault(msg.channel, set()).add(msg.listener)

    @handles(ChatLeave)
    def on_chat_leave(self, msg: ChatLeave) -> None:
        listeners = self.channels.get(msg.channel)
        if listeners is not None:
            listeners.discard(msg.listener)
            if not listeners:
                del self.channels[msg.channel]

    @handles(ChatSay)
    def on_chat_say(self, msg: ChatSay) -> None:
        for listener in sorted(self.channels.get(msg.channel, ())):
            self._send(ChatHeard(listener, self.guid, msg.channel, msg.speaker, msg.text))

    def _forget_listeners_on(self, node: int) -> None:
        for channel in list(self.channels):
            self.channels[channel] = {g for g in self.channels[channel] if node_of(g) != node}
            if not self.channels[channel]:
                del self.channels[channel]

    # -- status ---------------------------------------------------------------------------

    @handles(StatusRequest)
    def on_status_request(self, msg: StatusRequest) -> None:
        self._send(StatusReply(msg.frm, self.guid, msg.serial, self.status()))

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["directory"] = [e.row() for e in sorted(self.directory.values(), key=lambda e: e.node)]
        out["channels"] = {k: len(v) for k, v in self.channels.items()}
        out["relayed"] = self.relayed
        out["placement"] = self.placement.status()
        return out

    def _send_all(self, messages: list[Any]) -> None:
        for message in messages:
            self._send(message)

    def _send(self, message: Any) -> None:
        try:
            self.send(message)
        except RoutingError as exc:
            self.log.warning("GLD cannot send %s: %s", type(message).__name__, exc)
