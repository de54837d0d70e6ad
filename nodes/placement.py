"""Placement: which gamelogic node each logged-in account's character lives on (part of the GLD).

The GLD owns one :class:`Placement`. It answers the login node's
``PlacePlayer``: if the account is already in the world it first tells
that node to save and drop it (``DropPlayer``, answered by ``PlayerLeft``;
a second login takes over cleanly), then picks the live gamelogic node
with the fewest players, tells it to ``ExpectPlayer`` with the entry
token, and once that node acknowledges (``PlayerExpected``) answers
``PlayerPlaced`` with the node's client address. It returns the messages
to send; the GLD sends them::

    out = placement.place(msg, directory, now)      # PlacePlayer from a login node
    out = placement.expected(msg, directory, now)   # PlayerExpected from a gamelogic node
    out = placement.left(msg, directory, now)       # PlayerLeft
    out = placement.leave(msg, directory, now)      # LeaveWorld: before a character is deleted
    out = placement.node_gone(node, directory, now) # dead or restarted gamelogic node
    out = placement.tick(directory, now)            # timeouts
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

from engine.guid import WellKnown, module_guid, node_of
from engine.login.messages import (
    DropPlayer,
    ExpectPlayer,
    LeaveWorld,
    PlacePlayer,
    PlayerExpected,
    PlayerLeft,
    PlayerPlaced,
    WorldLeft,
)

TAKEOVER_REASON = "this account logged in from elsewhere"
DELETE_REASON = "your character is being deleted"


@attrs.define
class _Request:
    asked_by: int  # the login module's Guid
    msg: PlacePlayer | LeaveWorld
    stage: str  # "dropping" (waiting for the old node) or "expecting" (waiting for the new one)
    node: int
    deadline: float


class Placement:
    """The GLD's player table and the placements in progress."""

    def __init__(self, me: int, *, timeout: float = 5.0):
        self.me = me
        self.timeout = timeout
        self.players: dict[int, tuple[int, int]] = {}
        """account id -> (gamelogic node, character id) of the accounts in the world."""
        self._requests: dict[int, _Request] = {}
        self._serial = 0

    def place(self, msg: PlacePlayer, directory: Mapping[int, Any], now: float) -> list[Any]:
        for serial, req in list(self._requests.items()):  # a newer placement for the account wins
            if req.msg.account_id == msg.account_id and isinstance(req.msg, PlacePlayer):
                del self._requests[serial]
        req = _Request(msg.frm, msg, "dropping", 0, now + self.timeout)
        where = self.players.get(msg.account_id)
        if where is not None and _alive_gamelogic(directory, where[0]):
            req.node = where[0]
            self._serial += 1
            self._requests[self._serial] = req
            return [DropPlayer(module_guid(where[0], WellKnown.GAMELOGIC), self.me, msg.account_id,
                               TAKEOVER_REASON)]
        self.players.pop(msg.account_id, None)
        return self._expect(req, directory, now)

    def leave(self, msg: LeaveWorld, directory: Mapping[int, Any], now: float) -> list[Any]:
        """Drop the account's character from the world (if it is there), then answer WorldLeft."""
        where = self.players.get(msg.account_id)
        if where is None or not _alive_gamelogic(directory, where[0]):
            self.players.pop(msg.account_id, None)
            return [WorldLeft(msg.frm, self.me, msg.serial)]
        self._serial += 1
        self._requests[self._serial] = _Request(msg.frm, msg, "dropping", where[0], now + self.timeout)
        return [DropPlayer(module_guid(where[0], WellKnown.GAMELOGIC), self.me, msg.account_id,
                           DELETE_REASON)]

    def expected(self, msg: PlayerExpected, directory: Mapping[int, Any], now: float) -> list[Any]:
        req = self._requests.get(msg.serial)
        if req is None or req.stage != "expecting" or req.node != node_of(msg.frm):
            return []
        del self._requests[msg.serial]
        if msg.error:
            return [self._answer(req, 0, "", f"gamelogic node {req.node} refused: {msg.error}")]
        self.players[req.msg.account_id] = (req.node, req.msg.character_id)
        return [self._answer(req, req.node, directory[req.node].extra.get("clients", ""), "")]

    def left(self, msg: PlayerLeft, directory: Mapping[int, Any], now: float) -> list[Any]:
        node = node_of(msg.frm)
        if self.players.get(msg.account_id, (None,))[0] == node:
            del self.players[msg.account_id]
        out: list[Any] = []
        for serial, req in list(self._requests.items()):
            if req.stage == "dropping" and req.msg.account_id == msg.account_id and req.node == node:
                del self._requests[serial]
                out += self._expect(req, directory, now)
        return out

    def node_gone(self, node: int, directory: Mapping[int, Any], now: float) -> list[Any]:
        """A gamelogic node died or restarted: its players are gone, its placements fail."""
        for account, (where, _) in list(self.players.items()):
            if where == node:
                del self.players[account]
        out: list[Any] = []
        for serial, req in list(self._requests.items()):
            if req.node == node:
                del self._requests[serial]
                if req.stage == "dropping":
                    out += self._expect(req, directory, now)
                else:
                    out.append(self._answer(req, 0, "", f"gamelogic node {node} went away"))
        return out

    def tick(self, directory: Mapping[int, Any], now: float) -> list[Any]:
        out: list[Any] = []
        for serial, req in list(self._requests.items()):
            if req.deadline >= now:
                continue
            del self._requests[serial]
            if req.stage == "dropping":  # the old node did not answer: place anew regardless
                self.players.pop(req.msg.account_id, None)
                out += self._expect(req, directory, now)
            else:
                out.append(self._answer(req, 0, "", f"gamelogic node {req.node} did not answer"))
        return out

    def counts(self) -> Counter[int]:
        """Players per gamelogic node."""
        return Counter(node for node, _ in self.players.values())

    def _expect(self, req: _Request, directory: Mapping[int, Any], now: float) -> list[Any]:
        """Place the request's character; for a LeaveWorld, the drop is done: answer it."""
        if isinstance(req.msg, LeaveWorld):
            return [WorldLeft(req.asked_by, self.me, req.msg.serial)]
        load = self.counts()
        load.update(r.node for r in self._requests.values() if r.stage == "expecting")
        nodes = sorted((load[e.node], e.node) for e in directory.values()
                       if e.alive and e.role == "gamelogic" and e.extra.get("clients"))
        if not nodes:
            return [self._answer(req, 0, "", "no gamelogic node is up")]
        req.node, req.stage, req.deadline = nodes[0][1], "expecting", now + self.timeout
        self._serial += 1
        self._requests[self._serial] = req
        m = req.msg
        return [ExpectPlayer(module_guid(req.node, WellKnown.GAMELOGIC), self.me, self._serial,
                             m.account_id, m.character_id, m.entity_id, m.token)]

    def _answer(self, req: _Request, node: int, address: str, error: str) -> PlayerPlaced:
        return PlayerPlaced(req.asked_by, self.me, req.msg.serial, node, address, error)  # type: ignore[union-attr]

    def status(self) -> dict[str, Any]:
        return {"players": len(self.players), "placing": len(self._requests),
                "per_node": dict(self.counts())}


def _alive_gamelogic(directory: Mapping[int, Any], node: int) -> bool:
    entry = directory.get(node)
    return entry is not None and entry.alive and entry.role == "gamelogic"
