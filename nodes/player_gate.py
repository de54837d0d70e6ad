"""PlayerGate: the gamelogic node's object host, and the door players come in through.

It is the node's ObjectSpace host (the ``logic`` module of
``nodes/gamelogic.toml``) and the network module's ``deliver_to``. For each
player it holds one ObjectSpace with the character, its inventory and its
skills (:mod:`gamelogic.character`), loaded and written behind through an
:class:`~engine.entity_cache.EntityCache` in front of persistence.

::

    GLD: ExpectPlayer(account, character, entity, token)  -> remember the token
         (for 30 s, good once), start loading the entity  -> PlayerExpected
    client connects with the token -> ClientConnected     -> entity loaded?
         -> new ObjectSpace, BindClient(conn, character)  -> EnteredWorld(avatar, state)
    SetPosition / Train (checked here) -> entity state updated, written behind
    Logout / ClientDisconnected / DropPlayer (a takeover)
         -> state saved, space destroyed -> (once persistence acknowledged) PlayerLeft to the GLD

A client message reaches the gate whatever ``to`` it names: the pipe's
ClientFilter has stamped ``frm`` with the sender's avatar, and that alone
says whose character it acts on.

Settings: ``persistence_node`` (1000), ``gld_node`` (1), ``flush_interval``
(write-behind, s, 10), ``cache_bound`` (inactive entities kept, 10000),
``entry_ttl`` (s an entry token stays good, 30), ``preload_regions`` (regions whose
entities are loaded into the cache at start, before players arrive; none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from engine.control import DeliveryFailed
from engine.dispatch import handles
from engine.engine import RoutingError
from engine.entity_cache import EntityCache
from engine.guid import WellKnown, format_guid, module_guid
from engine.login import EntryTokens
from engine.login.messages import (
    AvatarState,
    DropPlayer,
    EnteredWorld,
    ExpectPlayer,
    Logout,
    PlayerExpected,
    PlayerLeft,
    SetPosition,
    Train,
)
from engine.modules import Module
from engine.modules.network_messages import BindClient, ClientConnected, ClientDisconnected, Disconnect
from engine.modules.objectspace_host import ObjectSpaceHost
from engine.objectspace import ObjectSpace
from engine.persistence.messages import AccountReply, EntitiesLoaded, GetAccount, SaveResult
from gamelogic.character import (
    Character,
    Inventory,
    Skills,
    build_character,
    describe_character,
    dump_character,
)

_CLIENT_TYPES = frozenset(m.type_id for m in (SetPosition, Train, Logout))
_ROLES_SERIAL_BASE = 1 << 40  # our GetAccount serials, apart from the entity cache's


@attrs.define
class _Ticket:
    account_id: int
    character_id: int
    entity_id: int


@attrs.define
class _Player:
    ticket: _Ticket
    conn: int
    arrived: float
    space: ObjectSpace | None = None
    character: Character | None = None
    inventory: Inventory | None = None
    skills: Skills | None = None


class PlayerGate(ObjectSpaceHost):
    kind = "player_gate"
    client_types: frozenset[int] = _CLIENT_TYPES
    """Message types a client may send here; they reach ``@handles`` whatever ``to`` says."""

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.persistence_node = int(s.get("persistence_node", 1000))
        self.gld_node = int(s.get("gld_node", 1))
        self.flush_interval = float(s.get("flush_interval", 10.0))
        self.cache_bound = int(s.get("cache_bound", 10_000))
        self.tokens = EntryTokens(ttl=float(s.get("entry_ttl", 30.0)))
        self.cache: EntityCache | None = None
        self._players: dict[int, _Player] = {}  # account id -> player in (or entering) the world
        self._by_conn: dict[int, int] = {}  # connection Guid -> account id
        self._by_avatar: dict[int, int] = {}  # character Guid -> account id
        self._leaving: list[_Player] = []  # dropped, their last save not yet acknowledged
        self._waiting: dict[int, _Player] = {}  # account id -> player whose entity is loading
        self.roles: dict[int, tuple[str, ...]] = {}  # account id -> roles, asked for at ExpectPlayer
        self._next_sweep = 0.0
        self.entered = 0
        self.refused = 0

    def start(self) -> None:
        self.cache = EntityCache(persistence=module_guid(self.persistence_node, WellKnown.PERSISTENCE),
                                 me=self.guid, bound=self.cache_bound, flush_interval=self.flush_interval)
        for region in self.settings.get("preload_regions", ()):
            self.cache.preload_region(str(region))

    def stop(self) -> None:
        for player in list(self._players.values()):
            self._leave(player, "server shutting down")
        self.cache.flush()
        self.cache.tick(self._now())
        self._pump()  # the transport stops after us and sends the batch

    @property
    def _gld(self) -> int:
        return module_guid(self.gld_node, WellKnown.GLD)

    def receive(self, messages: list[Any]) -> None:
        """Client operations and messages to the gate go to its handlers; the rest to their spaces."""
        own = self.guid
        client = self.client_types
        mine = [m for m in messages if m[1] == own or m[0] in client]
        if len(mine) < len(messages):
            super().receive([m for m in messages if not (m[1] == own or m[0] in client)])
        if mine:
            Module.receive(self, mine)

    # -- the GLD's side ----------------------------------------------------------------------------

    @handles(ExpectPlayer)
    def on_expect(self, msg: ExpectPlayer) -> None:
        ticket = _Ticket(msg.account_id, msg.character_id, msg.entity_id)
        self.tokens.issue(ticket, now=self._now(), token=msg.token)
        self.cache.acquire([msg.entity_id], self._now())  # start loading before the client arrives
        self._send(PlayerExpected(msg.frm, self.guid, msg.serial, ""))
        self._send(GetAccount(self.cache.persistence, self.guid, _ROLES_SERIAL_BASE + msg.account_id, "",
                              msg.account_id))

    @handles(AccountReply)
    def on_account(self, msg: AccountReply) -> None:
        """An expected player's account: its roles (a designer may edit the live world)."""
        if msg.account is not None and msg.serial >= _ROLES_SERIAL_BASE:
            self.roles[int(msg.account[0])] = tuple(msg.account[4])

    @handles(DropPlayer)
    def on_drop(self, msg: DropPlayer) -> None:
        player = self._players.get(msg.account_id)
        if player is None:
            self._send(PlayerLeft(self._gld, self.guid, msg.account_id, 0))
        else:
            self._leave(player, msg.reason)

    # -- the client's side -------------------------------------------------------------------------

    @handles(ClientConnected)
    def on_connected(self, msg: ClientConnected) -> None:
        ticket = None
        if msg.token and len(msg.token) <= 100:
            ticket = self.tokens.redeem(msg.token.decode(errors="replace"), now=self._now())
        if ticket is None:
            self.refused += 1
            self.log.info("client %s (%s) refused: no valid entry token", format_guid(msg.conn), msg.address)
            self._send(Disconnect(msg.conn, self.guid, "that entry token is not valid; log in again"))
            return
        old = self._players.get(ticket.account_id)
        if old is not None:
            self._leave(old, "this account logged in from elsewhere")
        player = self._players[ticket.account_id] = _Player(ticket, msg.conn, self._now())
        self._by_conn[msg.conn] = ticket.account_id
        if self.cache.get(ticket.entity_id) is not None:
            self._enter(player)
        else:
            self._waiting[ticket.account_id] = player

    @handles(ClientDisconnected)
    def on_disconnected(self, msg: ClientDisconnected) -> None:
        account = self._by_conn.get(msg.conn)
        player = self._players.get(account) if account is not None else None
        if player is not None and player.conn == msg.conn:
            self._leave(player, "")

    @handles(SetPosition)
    def on_set_position(self, msg: SetPosition) -> None:
        player = self._player_of(msg)
        if player is not None and player.character.move_to(msg.x, msg.y, msg.z):
            self._changed(player)

    @handles(Train)
    def on_train(self, msg: Train) -> None:
        player = self._player_of(msg)
        if player is not None and player.skills.train(msg.skill, msg.amount):
            self._changed(player)

    @handles(Logout)
    def on_logout(self, msg: Logout) -> None:
        player = self._player_of(msg)
        if player is not None:
            self._leave(player, "logged out")

    # -- persistence's side ---------------------------------------------------------------------------

    @handles(EntitiesLoaded)
    def on_loaded(self, msg: EntitiesLoaded) -> None:
        arrived, missing = self.cache.on_loaded(msg)
        if not self._waiting:
            return
        for player in list(self._waiting.values()):
            eid = player.ticket.entity_id
            if eid in arrived:
                self._enter(player)
            elif eid in missing:
                self.log.warning("character %d (entity %d) not found", player.ticket.character_id, eid)
                self._leave(player, "your character could not be loaded")

    @handles(SaveResult)
    def on_saved(self, msg: SaveResult) -> None:
        self.cache.on_save_result(msg)

    @handles(DeliveryFailed)
    def on_delivery_failed(self, msg: DeliveryFailed) -> None:
        self.log.warning("message %d to %s not delivered: %s", msg.original_type,
                         format_guid(msg.original_to), msg.reason)

    # -- the tick -------------------------------------------------------------------------------------

    def on_tick(self) -> None:
        now = self._now()
        if now >= self._next_sweep:  # once a second: tokens never redeemed, loads never answered
            self._next_sweep = now + 1.0
            for ticket in self.tokens.expire(now):
                self.cache.release(ticket.entity_id, now)  # let go of what ExpectPlayer preloaded
            for player in list(self._waiting.values()):
                if now - player.arrived > self.tokens.ttl:
                    self.log.warning("character %d: no answer from persistence", player.ticket.character_id)
                    self._leave(player, "your character could not be loaded; try again")
        self.cache.tick(now)
        self._pump()
        if self._leaving:
            done = [p for p in self._leaving if not self.cache.pending_save(p.ticket.entity_id)]
            for player in done:
                self._leaving.remove(player)
                self._send(PlayerLeft(self._gld, self.guid, player.ticket.account_id,
                                      player.ticket.character_id))

    # -- internals ------------------------------------------------------------------------------------

    def _enter(self, player: _Player) -> None:
        self._waiting.pop(player.ticket.account_id, None)
        entity = self.cache.get(player.ticket.entity_id)
        space = self.spaces.create_space()
        try:
            player.character, player.inventory, player.skills = build_character(space, entity.state)
        except Exception:
            self.log.exception("character %d: state does not load", player.ticket.character_id)
            self.spaces.destroy_space(space)
            self._leave(player, "your character could not be loaded")
            return
        player.space = space
        self._by_avatar[player.character.guid] = player.ticket.account_id
        self.entered += 1
        self._send(BindClient(player.conn, self.guid, player.character.guid))
        self._entered(player)
        self._send(EnteredWorld(player.conn, self.guid, player.character.guid, self._describe(player)))
        self.log.info("account %d: character %d entered as %s", player.ticket.account_id,
                      player.ticket.character_id, format_guid(player.character.guid))

    def _entered(self, player: _Player) -> None:
        """Hook: the player's character is in its space and the client knows its avatar."""

    def _leaving_world(self, player: _Player) -> None:
        """Hook: the player's space is about to go; bring its objects up to date for the last save."""

    def _player_of(self, msg: Any) -> _Player | None:
        account = self._by_avatar.get(msg.frm)
        player = self._players.get(account) if account is not None else None
        return player if player is not None and player.space is not None else None

    def _describe(self, player: _Player) -> dict[str, Any]:
        return describe_character(player.character, player.inventory, player.skills)  # type: ignore[arg-type]

    def _changed(self, player: _Player) -> None:
        self.cache.update(player.ticket.entity_id,
                          dump_character(player.character, player.inventory, player.skills))  # type: ignore[arg-type]
        self._send(AvatarState(player.conn, self.guid, self._describe(player)))

    def _leave(self, player: _Player, reason: str) -> None:
        """Save (write-behind flush), destroy the space, tell the GLD once saved, drop the client."""
        ticket = player.ticket
        if self._players.get(ticket.account_id) is player:
            del self._players[ticket.account_id]
        if self._waiting.get(ticket.account_id) is player:
            del self._waiting[ticket.account_id]
        self._by_conn.pop(player.conn, None)
        if player.space is not None:
            self._leaving_world(player)
            self.cache.update(ticket.entity_id, dump_character(player.character, player.inventory,
                                                               player.skills))  # type: ignore[arg-type]
            self._by_avatar.pop(player.character.guid, None)
            self.spaces.destroy_space(player.space)
            player.space = None
        self.cache.release(ticket.entity_id, self._now())
        self.cache.flush()
        self._leaving.append(player)
        if reason:
            self._send(Disconnect(player.conn, self.guid, reason))
        self.log.info("account %d: character %d leaves%s", ticket.account_id, ticket.character_id,
                      f" ({reason})" if reason else "")

    def _pump(self) -> None:
        for message in self.cache.take_requests():
            self._send(message)

    def _now(self) -> float:
        return self.engine.clock.now()

    def _send(self, message: Any) -> None:
        try:
            self.send(message)
        except RoutingError as exc:
            self.log.warning("cannot send %s: %s", type(message).__name__, exc)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(players=len(self._players), leaving=len(self._leaving), entered=self.entered,
                   refused=self.refused, expected=len(self.tokens), cache=self.cache.status())
        return out
