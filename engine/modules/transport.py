"""TransportModule: messages between nodes over ZeroMQ, polled inside the tick.

Every message a module sends to a Guid of another node is routed here. Each
tick the transport

1. reads every batch that arrived on its ROUTER socket (non-blocking), and
   routes each message on to the local module or ObjectSpace it is for;
2. sends one batch per peer (a DEALER socket per peer) of what was queued
   for it this tick;
3. heartbeats peers it has not sent to recently, and declares dead a peer
   silent for ``dead_after`` seconds: watchers get ``PeerDown``, queued
   messages and any later ones for that node go back to their senders as
   ``DeliveryFailed``. A peer heard from again is announced with ``PeerUp``.

Peers are learnt from ``Directory`` messages (the GLD sends them) or from the
``peers`` setting (the GLD's own address, given on the command line). Time
for heartbeats comes from the engine's clock, so tests drive it by hand.

Settings: ``listen`` (zmq endpoint, default ``tcp://127.0.0.1:*``),
``peers`` (``{node_id: endpoint}``), ``heartbeat_interval`` (s, 0.5),
``dead_after`` (s, 2.5: a killed node is reported within 3 s),
``max_messages_per_tick`` (50,000: more stays queued in ZeroMQ until the next tick),
``gld_node`` (node to tell about dead peers), ``ping_interval`` (s, 1; 0 = off: each
live peer gets a ``Ping`` this often and its ``Pong`` gives the peer's round trip,
tick loops included, for metrics).
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import attrs
import zmq

from engine.codec.binary import DecodeError, decode, decode_batch_to, encode_batch
from engine.control import (
    DeliveryFailed,
    Directory,
    Forwarded,
    Heartbeat,
    NodeHello,
    PeerDown,
    PeerUp,
    Ping,
    Pong,
    WatchPeers,
)
from engine.dispatch import handles
from engine.engine import RoutingError
from engine.guid import MAX_NODE, WellKnown, module_guid
from engine.modules._module import Module
from engine.pipes import PipeFullError

_NODE_SHIFT = 48
_KEEPALIVE = (Heartbeat, NodeHello)
_to = itemgetter(1)
"""What still goes to a seed peer declared dead, so that it hears from us when it is back."""
_MAX_FRAMES_PER_TICK = 10_000
_MAX_BATCH_BYTES = 256 << 20
_MAX_BATCH_MESSAGES = 2_000_000


@attrs.define
class _Peer:
    node: int
    address: str
    socket: zmq.Socket | None = None
    last_heard: float = 0.0
    last_sent: float = float("-inf")
    alive: bool = True
    pending: list[Any] = attrs.Factory(list)
    static: bool = False
    sent_messages: int = 0
    received_messages: int = 0
    rtt: float | None = None
    last_ping: float = float("-inf")


class TransportModule(Module):
    kind = "transport"
    well_known = int(WellKnown.TRANSPORT)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.listen = str(s.get("listen", "tcp://127.0.0.1:*"))
        self.heartbeat_interval = float(s.get("heartbeat_interval", 0.5))
        self.dead_after = float(s.get("dead_after", 2.5))
        self.gld_node = int(s.get("gld_node", 1))
        self.max_messages_per_tick = int(s.get("max_messages_per_tick", 50_000))
        self.ping_interval = float(s.get("ping_interval", 1.0))
        self._ping_serial = 0
        if not 0 < self.heartbeat_interval < self.dead_after:
            raise ValueError("need 0 < heartbeat_interval < dead_after")
        self._static_peers = {int(k): str(v) for k, v in dict(s.get("peers", {})).items()}
        for node in self._static_peers:
            if not 1 <= node <= MAX_NODE:
                raise ValueError(f"peers: {node} is not a node id")
        self.address = ""
        """The endpoint this node listens on (known after start)."""
        self._context: zmq.Context | None = None
        self._router: zmq.Socket | None = None
        self._wakeup: Any = None
        """A poll object on the router's ZMQ_FD: readable when ZeroMQ has news for the socket."""
        self._drained = False
        """True when the last read found the router empty, so only news on its FD can change that."""
        self._peers: dict[int, _Peer] = {}
        self._outgoing: dict[int, list[Any]] = {}
        self._unknown: dict[int, tuple[float, list[Any]]] = {}
        """Messages for nodes not in the directory yet, held up to ``dead_after`` seconds."""
        self._watchers: set[int] = set()
        self.frames_in = 0
        self.frames_out = 0
        self.bad_frames = 0
        self.undeliverable = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._context = zmq.Context.instance()
        router = self._context.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.RCVHWM, 100_000)
        router.bind(self.listen)
        self._router = router
        if hasattr(select, "poll"):
            self._wakeup = select.poll()
            self._wakeup.register(router.getsockopt(zmq.FD), select.POLLIN)
        self.address = router.getsockopt(zmq.LAST_ENDPOINT).decode()
        now = self._now()
        for node, address in self._static_peers.items():
            self._add_peer(node, address, now, static=True)
        self.log.info("node %d transport listening on %s", self.node_id, self.address)

    def stop(self) -> None:
        # modules later in the stack stopped first and may have queued farewells
        for pipe in self._inbound:
            messages = pipe.drain(self.now_tick)
            if messages:
                self.receive(messages)
        self._flush(self._now())
        for peer in self._peers.values():
            if peer.socket is not None:
                peer.socket.close(linger=200)
        self._wakeup = None
        if self._router is not None:
            self._router.close(linger=0)
        self._peers.clear()

    def _now(self) -> float:
        return self.engine.clock.now()

    # -- outgoing: what local modules routed here ------------------------------------------

    def receive(self, messages: list[Any]) -> None:
        nid = self.node_id
        outgoing = self._outgoing
        nodes = {a >> _NODE_SHIFT for a in set(map(_to, messages))}
        if len(nodes) == 1 and nid not in nodes:  # the usual batch: all for one other node
            (node,) = nodes
            queue = outgoing.get(node)
            if queue is None:
                outgoing[node] = list(messages)
            else:
                queue.extend(messages)
            return
        local = []
        for m in messages:
            node = m[1] >> _NODE_SHIFT
            if node == nid:
                local.append(m)
                continue
            queue = outgoing.get(node)
            if queue is None:
                queue = outgoing[node] = []
            queue.append(m)
        if local:
            super().receive(local)

    @handles(Directory)
    def on_directory(self, msg: Directory) -> None:
        now = self._now()
        for row in msg.entries:
            try:
                node, _role, address, alive = int(row[0]), row[1], str(row[2]), bool(row[3])
            except (IndexError, TypeError, ValueError):
                self.log.warning("directory row ignored: %r", row)
                continue
            if node == self.node_id or not address:
                continue
            peer = self._peers.get(node)
            if peer is None or peer.address != address:
                self._add_peer(node, address, now)
            elif not alive and peer.alive and now - peer.last_heard > self.heartbeat_interval * 2:
                self._declare_dead(peer, "the GLD reports it dead", now)

    @handles(WatchPeers)
    def on_watch(self, msg: WatchPeers) -> None:
        self._watchers.add(msg.frm)

    @handles(Ping)
    def on_ping(self, msg: Ping) -> None:
        self._queue(Pong(msg.frm, self.guid, msg.serial, msg.data))

    @handles(Pong)
    def on_pong(self, msg: Pong) -> None:
        peer = self._peers.get(msg.frm >> _NODE_SHIFT)
        if peer is not None and type(msg.data) is float:
            peer.rtt = self._now() - msg.data

    @handles(Forwarded)
    def on_forwarded(self, msg: Forwarded) -> None:
        try:
            inner = decode(msg.message)
        except DecodeError as exc:
            self.bad_frames += 1
            self.log.warning("dropped a forwarded message: %s", exc)
            return
        self._deliver_locally([inner])

    @handles(Heartbeat)
    def on_heartbeat(self, msg: Heartbeat) -> None:
        pass  # liveness was already noted when its frame arrived

    def _queue(self, message: Any) -> None:
        self._outgoing.setdefault(message[1] >> _NODE_SHIFT, []).append(message)

    # -- the tick --------------------------------------------------------------------------

    def tick(self) -> None:
        now = self._now()
        self._poll(now)
        self._heartbeat(now)
        self._flush(now)
        self._check_liveness(now)

    def _poll(self, now: float) -> None:
        """Read and deliver the batches that arrived, up to the tick's budget.

        ZeroMQ makes the router's ZMQ_FD readable whenever it has news for the
        socket, among them "a peer's empty pipe has messages again". A read
        that finds the router empty has taken all the news, so until the FD
        is readable again there is nothing to read: an idle tick then costs
        one poll(2) (about 0.4 us) instead of a failed recv (two system calls
        and a Python exception, about 4 us), which is most of an idle tick.
        A read stopped by the budget leaves the flag down and reads again.
        After each batch, ZMQ_EVENTS (about 1.4 us) says whether another is
        there, so a busy tick does not end on a failed recv either.
        """
        router = self._router
        if router is None:
            return
        if self._drained and self._wakeup is not None and not self._wakeup.poll(0):
            return  # nothing came since the router was found empty (one poll(2), not a failed recv)
        self._drained = False
        events = router.getsockopt
        recv = router.recv
        budget = self.max_messages_per_tick
        for _ in range(_MAX_FRAMES_PER_TICK):
            if budget <= 0:
                return  # the rest waits in ZeroMQ's queue: the receivers' pipes stay bounded
            try:
                identity = recv(zmq.NOBLOCK)
            except zmq.Again:
                self._drained = True
                return
            # A message's parts arrive together, and the router put the sender's identity
            # before at least one: two recv calls and one RCVMORE cost less than
            # recv_multipart's RCVMORE after every part.
            payload = recv(zmq.NOBLOCK)
            if events(zmq.RCVMORE):  # more than one part: a stranger speaking to our port
                while events(zmq.RCVMORE):
                    recv(zmq.NOBLOCK)
                self.bad_frames += 1
                continue
            self.frames_in += 1
            try:
                messages, to = decode_batch_to(payload, max_bytes=_MAX_BATCH_BYTES,
                                               max_messages=_MAX_BATCH_MESSAGES)
            except DecodeError as exc:
                self.bad_frames += 1
                self.log.warning("dropped a bad batch from %r: %s", identity[:16], exc)
                continue
            try:
                sender = int(identity)
            except ValueError:
                sender = messages[0][2] >> _NODE_SHIFT if messages else 0
            self._heard_from(sender, now, len(messages))
            budget -= len(messages)
            self._deliver_locally(messages, to)
            if not events(zmq.EVENTS) & zmq.POLLIN:
                self._drained = True  # as a failed recv would have found: every pipe empty
                return

    def _deliver_locally(self, messages: list[Any], to: int | None = None) -> None:
        """Hand arrived messages on: to local receivers, to our own handlers, or count them lost.

        ``to``, when given, is the address every message shares (the decoder
        reports it): the usual batch then goes on with no pass over it.
        """
        nid = self.node_id
        mine = self.guid
        if to is not None:
            local = to != mine and to >> _NODE_SHIFT == nid
            pipe = self._route_cache.get(to) if local else None
            if pipe is not None:  # send_many's own fast path, without its pass over the addresses
                try:
                    pipe.push_many(messages)
                except PipeFullError as exc:
                    self.undeliverable += 1
                    self.log.error("a local receiver is not keeping up, messages lost: %s", exc)
                return
        else:
            addresses = set(map(_to, messages))
            local = mine not in addresses and all(a >> _NODE_SHIFT == nid for a in addresses)
        if local:
            mail = messages  # the usual batch: all for local modules, none for the transport itself
        else:
            ours = [m for m in messages if m[1] >> _NODE_SHIFT == nid]
            if len(ours) != len(messages):
                self.undeliverable += len(messages) - len(ours)
            mail = [m for m in ours if m[1] != mine]
            for m in ours:
                if m[1] == mine:
                    self.dispatch(m)
        try:
            self.send_many(mail, on_error=self._undeliverable)
        except PipeFullError as exc:
            self.undeliverable += 1
            self.log.error("a local receiver is not keeping up, messages lost: %s", exc)

    def _undeliverable(self, message: Any, exc: Exception) -> None:
        self.undeliverable += 1
        self.log.warning("cannot deliver %s from another node: %s", type(message).__name__, exc)

    def _heard_from(self, node: int, now: float, count: int) -> None:
        peer = self._peers.get(node)
        if peer is None:
            return  # not in the directory yet; the GLD's next Directory will add it
        peer.last_heard = now
        peer.received_messages += count
        if not peer.alive:
            peer.alive = True
            self.log.info("node %d is back", node)
            self._tell_watchers(lambda w: PeerUp(w, self.guid, node))

    def _heartbeat(self, now: float) -> None:
        ping = self.ping_interval
        for peer in self._peers.values():
            if ping > 0 and peer.alive and now - peer.last_ping >= ping:
                peer.last_ping = now
                self._ping_serial += 1
                self._outgoing.setdefault(peer.node, []).append(
                    Ping(module_guid(peer.node, WellKnown.TRANSPORT), self.guid, self._ping_serial, now))
            if now - peer.last_sent >= self.heartbeat_interval and peer.node not in self._outgoing:
                self._outgoing[peer.node] = [Heartbeat(module_guid(peer.node, WellKnown.TRANSPORT),
                                                       self.guid, now)]

    def _flush(self, now: float) -> None:
        if not self._outgoing:
            return
        outgoing, self._outgoing = self._outgoing, {}
        for node, messages in outgoing.items():
            peer = self._peers.get(node)
            if peer is None:
                first, held = self._unknown.get(node, (now, []))
                held.extend(m for m in messages if type(m) is not Heartbeat)
                self._unknown[node] = (first, held)
                continue
            if not peer.alive:
                self._fail([m for m in messages if type(m) not in _KEEPALIVE],
                           f"node {node} is dead (silent for over {self.dead_after:g} s)")
                if peer.static:  # a seed (the GLD) is never given up: it must hear us when it is back
                    keep = [m for m in messages if type(m) in _KEEPALIVE]
                    if keep:
                        with contextlib.suppress(zmq.Again):
                            peer.socket.send(encode_batch(keep), zmq.NOBLOCK)  # type: ignore[union-attr]
                continue
            if peer.pending:
                messages = peer.pending + messages
                peer.pending = []
            try:
                peer.socket.send(encode_batch(messages), zmq.NOBLOCK)  # type: ignore[union-attr]
            except zmq.Again:
                # not connected yet, or its queue is full: keep them until it is declared dead
                peer.pending = [m for m in messages if type(m) is not Heartbeat]
                continue
            peer.last_sent = now
            peer.sent_messages += len(messages)
            self.frames_out += 1

    def _check_liveness(self, now: float) -> None:
        for node, (first, held) in list(self._unknown.items()) if self._unknown else ():
            if now - first > self.dead_after:
                del self._unknown[node]
                self._fail(held, f"node {node} is not in the directory")
        for peer in self._peers.values():
            if peer.alive and now - peer.last_heard > self.dead_after:
                self._declare_dead(peer, f"silent for {now - peer.last_heard:.1f} s", now)

    def _declare_dead(self, peer: _Peer, reason: str, now: float) -> None:
        peer.alive = False
        self.log.warning("node %d declared dead: %s", peer.node, reason)
        pending, peer.pending = peer.pending, []
        self._fail(pending, f"node {peer.node} is dead ({reason})")
        node = peer.node
        self._tell_watchers(lambda w: PeerDown(w, self.guid, node, reason))
        if self.node_id != self.gld_node and node != self.gld_node and self.gld_node in self._peers:
            self._queue(PeerDown(module_guid(self.gld_node, WellKnown.GLD), self.guid, node, reason))

    def _fail(self, messages: list[Any], reason: str) -> None:
        """Tell each local sender its message could not be delivered."""
        for m in messages:
            self.undeliverable += 1
            sender = m[2]
            if sender >> _NODE_SHIFT != self.node_id or sender == self.guid or type(m) is DeliveryFailed:
                continue
            try:
                self.send(DeliveryFailed(sender, self.guid, m[1], m[0], reason))
            except RoutingError as exc:
                self.log.warning("could not tell %s of a failed delivery: %s", sender, exc)

    def _tell_watchers(self, make: Any) -> None:
        for watcher in list(self._watchers):
            try:
                self.send(make(watcher))
            except RoutingError as exc:
                self.log.warning("cannot reach watcher: %s", exc)

    def _add_peer(self, node: int, address: str, now: float, static: bool = False) -> None:
        old = self._peers.get(node)
        if old is not None and old.socket is not None:
            old.socket.close(linger=0)
        assert self._context is not None
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, str(self.node_id).encode())
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 10_000)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.connect(address)
        peer = _Peer(node=node, address=address, socket=sock, last_heard=now, static=static)
        if old is not None:
            peer.pending = old.pending
        if node in self._unknown:
            peer.pending.extend(self._unknown.pop(node)[1])
        self._peers[node] = peer

    # -- reading ---------------------------------------------------------------------------

    def peers(self) -> dict[int, dict[str, Any]]:
        now = self._now()
        return {p.node: {"address": p.address, "alive": p.alive,
                         "silent_for": round(now - p.last_heard, 3), "sent": p.sent_messages,
                         "received": p.received_messages, "rtt": p.rtt}
                for p in self._peers.values()}

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(address=self.address, frames_in=self.frames_in, frames_out=self.frames_out,
                   bad_frames=self.bad_frames, undeliverable=self.undeliverable,
                   peers={str(k): v for k, v in self.peers().items()})
        return out
