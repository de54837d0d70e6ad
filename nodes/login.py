"""The login module: accounts, passwords, sessions, characters, and the way into the world.

It serves player clients through its node's network module (the handshake
of a reconnecting client carries its resume token) and keeps no database of
its own: accounts, sessions and characters are persistence requests, and
placing a character in the world is a request to the GLD. Nothing here
blocks the tick: argon2id runs on a thread pool (:class:`engine.login.HashPool`),
and every request's answer is matched by its serial.

One request at a time per connection; every refusal is a ``Refused`` to
the client and a log line. A login with an unknown account and one with a
wrong password get the same text and cost the same argon2 work::

    LoginRequest("ann", pw) -> [rate limits] -> GetAccount -> verify on the pool
        -> CreateSession(token) -> ListCharacters -> LoginOk(account, token, characters)
    connect with the resume token -> GetSession -> ListCharacters -> LoginOk
    EnterWorldRequest(character) -> PlacePlayer (GLD) -> PlayerPlaced -> GoTo(address, entry token)
    DeleteCharacterRequest -> LeaveWorld (GLD: saved and out of the world) -> DeleteCharacter

Settings: ``persistence_node`` (1000), ``gld_node`` (1), ``session_ttl``
(s, 86400), ``hash_time_cost``/``hash_memory_kib``/``hash_parallelism``
(argon2id cost; defaults in :mod:`engine.login._passwords`),
``hash_workers`` (2), ``account_burst``/``account_rate`` (login attempts
per account name: 5, then one per 30 s), ``address_burst``/``address_rate``
(per client address: 30, then 1 per s), ``request_timeout`` (10 s),
``max_characters`` (8).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from engine.dispatch import handles
from engine.engine import RoutingError
from engine.guid import WellKnown, format_guid, module_guid
from engine.login import (
    HashPool,
    Passwords,
    RateLimiter,
    RuleError,
    check_account_name,
    check_character_name,
    check_password,
    mint_token,
)
from engine.login._passwords import DEFAULT_MEMORY_KIB, DEFAULT_PARALLELISM, DEFAULT_TIME_COST
from engine.login.messages import (
    AccountCreated,
    CharacterList,
    CreateAccountRequest,
    CreateCharacterRequest,
    DeleteCharacterRequest,
    EnterWorldRequest,
    GoTo,
    LeaveWorld,
    LoginOk,
    LoginRequest,
    LogoutRequest,
    PlacePlayer,
    PlayerPlaced,
    Refused,
    WorldLeft,
)
from engine.modules import Module
from engine.modules.network_messages import ClientConnected, ClientDisconnected, Disconnect
from engine.persistence.messages import (
    AccountReply,
    CharactersReply,
    CreateAccount,
    CreateCharacter,
    CreateSession,
    DeleteCharacter,
    GetAccount,
    GetSession,
    ListCharacters,
    RevokeSession,
    SessionReply,
    SetPassword,
    StoreDone,
)
from gamelogic.character import ENTITY_CLASS, START_REGION, new_character_state

BAD_LOGIN = "wrong account name or password"
"""The one text for an unknown account, a wrong password and a malformed name."""
TOO_MANY = "too many login attempts; wait a minute and try again"
BUSY = "the server is busy; try again in a moment"


@attrs.define
class _Conn:
    guid: int
    address: str
    account_id: int = 0
    token: str = ""
    busy: str = ""  # the request being served, if any
    characters: dict[int, tuple[str, int]] = attrs.Factory(dict)  # id -> (name, entity id)


class LoginModule(Module):
    kind = "login"
    well_known = int(WellKnown.LOGIN)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.persistence_node = int(s.get("persistence_node", 1000))
        self.gld_node = int(s.get("gld_node", 1))
        self.session_ttl = float(s.get("session_ttl", 86400.0))
        self.request_timeout = float(s.get("request_timeout", 10.0))
        self.max_characters = int(s.get("max_characters", 8))
        self.passwords = Passwords(time_cost=int(s.get("hash_time_cost", DEFAULT_TIME_COST)),
                                   memory_kib=int(s.get("hash_memory_kib", DEFAULT_MEMORY_KIB)),
                                   parallelism=int(s.get("hash_parallelism", DEFAULT_PARALLELISM)))
        self.pool = HashPool(self.passwords, workers=int(s.get("hash_workers", 2)))
        self.by_account = RateLimiter(burst=float(s.get("account_burst", 5)),
                                      rate=float(s.get("account_rate", 1 / 30)))
        self.by_address = RateLimiter(burst=float(s.get("address_burst", 30)),
                                      rate=float(s.get("address_rate", 1.0)))
        self._conns: dict[int, _Conn] = {}
        self._accounts: dict[int, int] = {}  # account id -> connection Guid logged in with it
        self._pending: dict[int, tuple[float, Callable[[Any], None]]] = {}
        self._serial = 0
        self.logins = 0
        self.resumes = 0
        self.refusals = 0

    @property
    def _persistence(self) -> int:
        return module_guid(self.persistence_node, WellKnown.PERSISTENCE)

    def stop(self) -> None:
        self.pool.close()

    # -- connections ------------------------------------------------------------------------

    @handles(ClientConnected)
    def on_connected(self, msg: ClientConnected) -> None:
        conn = self._conns[msg.conn] = _Conn(msg.conn, msg.address)
        if not msg.token:
            return
        try:
            token = msg.token.decode()
        except UnicodeDecodeError:
            token = ""
        conn.busy = "resume"
        if not token or len(token) > 100:
            self._refuse(conn, "resume", "that resume token is not valid; log in with your password",
                         close=True)
            return

        def answer(reply: SessionReply | None) -> None:
            if reply is None or reply.error:
                self._refuse(conn, "resume", BUSY, close=True, why=reply and reply.error)
            elif reply.session is None:
                self._refuse(conn, "resume", "that resume token is not valid (expired or revoked); "
                             "log in with your password", close=True)
            else:
                self.resumes += 1
                self._logged_in(conn, reply.session[1], token, reply.session[3])

        self._ask(lambda serial: GetSession(self._persistence, self.guid, serial, token, self._now()),
                  answer)

    @handles(ClientDisconnected)
    def on_disconnected(self, msg: ClientDisconnected) -> None:
        conn = self._conns.pop(msg.conn, None)
        if conn is not None and conn.account_id and self._accounts.get(conn.account_id) == conn.guid:
            del self._accounts[conn.account_id]

    # -- accounts ---------------------------------------------------------------------------------

    @handles(CreateAccountRequest)
    def on_create_account(self, msg: CreateAccountRequest) -> None:
        conn = self._start(msg, "create_account", need_account=False)
        if conn is None:
            return
        if not self.by_address.allow(_host(conn.address), now=self._now()):
            self._refuse(conn, "create_account", TOO_MANY)
            return
        try:
            name = check_account_name(msg.name)
            password = check_password(msg.password)
        except RuleError as exc:
            self._refuse(conn, "create_account", str(exc))
            return

        def hashed(stored: str) -> None:
            self._ask(lambda serial: CreateAccount(self._persistence, self.guid, serial, name, stored,
                                                   self.passwords.params, [], self._now()), created)

        def created(reply: AccountReply | None) -> None:
            if reply is not None and reply.error.startswith("name_taken:"):
                self._refuse(conn, "create_account", "that account name is taken")
            elif reply is None or reply.error or reply.account is None:
                self._refuse(conn, "create_account", BUSY, why=reply and reply.error)
            else:
                self.log.info("account %d (%s) created from %s", reply.account[0], name, conn.address)
                self._answer(conn, AccountCreated(conn.guid, self.guid, reply.account[0]))

        self.pool.hash(password, hashed)

    @handles(LoginRequest)
    def on_login(self, msg: LoginRequest) -> None:
        conn = self._start(msg, "login", need_account=False)
        if conn is None:
            return
        now = self._now()
        key = _name_key(msg.name)
        if not (self.by_address.allow(_host(conn.address), now=now)
                and self.by_account.allow(key, now=now)):
            self._refuse(conn, "login", TOO_MANY, why=f"rate limit for {key[:40]!r}")
            return
        password = msg.password if isinstance(msg.password, str) and len(msg.password) <= 256 else ""

        def verified(account: list[Any] | None, ok: bool) -> None:
            if not ok or account is None:
                self._refuse(conn, "login", BAD_LOGIN, why=f"for {key[:40]!r}")
                return
            self.logins += 1
            self._session(conn, account[0])
            if self.passwords.needs_rehash(account[2]):  # the cost was raised: upgrade this hash
                self.pool.hash(password, lambda stored: self._ask(
                    lambda serial: SetPassword(self._persistence, self.guid, serial, account[0], stored,
                                               self.passwords.params), lambda reply: None))

        def found(reply: AccountReply | None) -> None:
            if reply is None or reply.error:
                self._refuse(conn, "login", BUSY, why=reply and reply.error)
                return
            account = reply.account
            self.pool.verify(account[2] if account else None, password,
                             lambda ok: verified(account, ok))

        try:
            name = check_account_name(msg.name)
        except RuleError:  # no such account can exist; pay the same hash cost anyway
            self.pool.verify(None, password, lambda ok: verified(None, ok))
            return
        self._ask(lambda serial: GetAccount(self._persistence, self.guid, serial, name), found)

    def _session(self, conn: _Conn, account_id: int) -> None:
        token = mint_token()
        now = self._now()

        def made(reply: SessionReply | None) -> None:
            if reply is None or reply.error:
                self._refuse(conn, "login", BUSY, why=reply and reply.error)
            else:
                self._logged_in(conn, account_id, token, now + self.session_ttl)

        self._ask(lambda serial: CreateSession(self._persistence, self.guid, serial, token, account_id,
                                               now, now + self.session_ttl), made)

    def _logged_in(self, conn: _Conn, account_id: int, token: str, expires: float) -> None:
        old = self._accounts.get(account_id)
        if old is not None and old != conn.guid and old in self._conns:
            self._kick(old, "this account logged in from elsewhere")
        self._accounts[account_id] = conn.guid
        conn.account_id, conn.token = account_id, token
        self._list(conn, lambda rows: LoginOk(conn.guid, self.guid, account_id, token, expires, rows))

    @handles(LogoutRequest)
    def on_logout(self, msg: LogoutRequest) -> None:
        conn = self._start(msg, "logout")
        if conn is None:
            return

        def revoked(reply: StoreDone | None) -> None:
            self._kick(conn.guid, "logged out")

        token = conn.token
        self._ask(lambda serial: RevokeSession(self._persistence, self.guid, serial, token), revoked)

    # -- characters ------------------------------------------------------------------------------

    @handles(CreateCharacterRequest)
    def on_create_character(self, msg: CreateCharacterRequest) -> None:
        conn = self._start(msg, "create_character")
        if conn is None:
            return
        try:
            name = check_character_name(msg.name)
        except RuleError as exc:
            self._refuse(conn, "create_character", str(exc))
            return
        if len(conn.characters) >= self.max_characters:
            self._refuse(conn, "create_character", f"an account has at most {self.max_characters} characters")
            return

        def created(reply: CharactersReply | None) -> None:
            if reply is not None and reply.error.startswith("name_taken:"):
                self._refuse(conn, "create_character", "that name is taken")
            elif reply is None or reply.error:
                self._refuse(conn, "create_character", BUSY, why=reply and reply.error)
            else:
                self.log.info("account %d created character %d (%s)", conn.account_id,
                              reply.characters[0][0], name)
                self._list(conn, lambda rows: CharacterList(conn.guid, self.guid, rows))

        account_id = conn.account_id
        self._ask(lambda serial: CreateCharacter(self._persistence, self.guid, serial, account_id, name,
                                                 ENTITY_CLASS, new_character_state(name), START_REGION,
                                                 self._now()), created)

    @handles(DeleteCharacterRequest)
    def on_delete_character(self, msg: DeleteCharacterRequest) -> None:
        conn = self._start(msg, "delete_character")
        if conn is None:
            return
        if msg.character_id not in conn.characters:
            self._refuse(conn, "delete_character", "no such character on this account")
            return

        def deleted(reply: StoreDone | None) -> None:
            if reply is None or reply.error:
                self._refuse(conn, "delete_character", BUSY, why=reply and reply.error)
            else:
                self.log.info("account %d deleted character %d", conn.account_id, character_id)
                self._list(conn, lambda rows: CharacterList(conn.guid, self.guid, rows))

        def out_of_world(reply: WorldLeft | None) -> None:
            if reply is None:
                self._refuse(conn, "delete_character", BUSY, why="the GLD did not answer LeaveWorld")
            else:
                self._ask(lambda serial: DeleteCharacter(self._persistence, self.guid, serial,
                                                         character_id), deleted)

        character_id = msg.character_id
        gld = module_guid(self.gld_node, WellKnown.GLD)
        account_id = conn.account_id
        self._ask(lambda serial: LeaveWorld(gld, self.guid, serial, account_id), out_of_world)

    def _list(self, conn: _Conn, make: Callable[[list[list[Any]]], Any]) -> None:
        """Refresh the connection's character list, then answer ``make(rows)``."""

        def listed(reply: CharactersReply | None) -> None:
            if reply is None or reply.error:
                self._refuse(conn, conn.busy or "characters", BUSY, why=reply and reply.error)
                return
            conn.characters = {c[0]: (c[2], c[3]) for c in reply.characters}
            self._answer(conn, make([[cid, name] for cid, (name, _) in sorted(conn.characters.items())]))

        account_id = conn.account_id
        self._ask(lambda serial: ListCharacters(self._persistence, self.guid, serial, account_id), listed)

    # -- into the world ---------------------------------------------------------------------------

    @handles(EnterWorldRequest)
    def on_enter_world(self, msg: EnterWorldRequest) -> None:
        conn = self._start(msg, "enter_world")
        if conn is None:
            return
        character = conn.characters.get(msg.character_id)
        if character is None:
            self._refuse(conn, "enter_world", "no such character on this account")
            return
        token = mint_token()
        character_id = msg.character_id

        def placed(reply: PlayerPlaced | None) -> None:
            if reply is None or reply.error:
                self._refuse(conn, "enter_world", "no world server can take you now; try again",
                             why=reply.error if reply else "the GLD did not answer")
            else:
                self.log.info("account %d: character %d placed on node %d", conn.account_id,
                              character_id, reply.node)
                self._answer(conn, GoTo(conn.guid, self.guid, character_id, reply.address, token))

        gld = module_guid(self.gld_node, WellKnown.GLD)
        account_id = conn.account_id
        self._ask(lambda serial: PlacePlayer(gld, self.guid, serial, account_id, character_id,
                                             character[1], token), placed)

    # -- answers from persistence and the GLD ------------------------------------------------------

    @handles(AccountReply, SessionReply, CharactersReply, StoreDone, PlayerPlaced, WorldLeft)
    def on_reply(self, msg: Any) -> None:
        pending = self._pending.pop(msg.serial, None)
        if pending is not None:
            pending[1](msg)

    def tick(self) -> None:
        self.pool.poll()
        if self._pending:
            now = self._now()
            late = [s for s, (deadline, _) in self._pending.items() if deadline < now]
            for serial in late:
                _, answer = self._pending.pop(serial)
                answer(None)

    # -- internals ------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.engine.clock.now()

    def _start(self, msg: Any, request: str, *, need_account: bool = True) -> _Conn | None:
        """The sender's connection, now busy with ``request``; None (refused) if it may not ask."""
        conn = self._conns.get(msg.frm)
        if conn is None:
            self.log.warning("%s from unknown sender %s ignored", request, format_guid(msg.frm))
            return None
        if conn.busy:
            self._refuse(conn, request, f"one request at a time ({conn.busy} is being served)",
                         keep_busy=True)
            return None
        if need_account and not conn.account_id:
            self._refuse(conn, request, "log in first", keep_busy=True)
            return None
        conn.busy = request
        return conn

    def _ask(self, make: Callable[[int], Any], answer: Callable[[Any], None]) -> None:
        self._serial += 1
        serial = self._serial
        self._pending[serial] = (self._now() + self.request_timeout, answer)
        try:
            self.send(make(serial))
        except RoutingError as exc:
            self.log.warning("request %d not sent: %s", serial, exc)
            self._pending.pop(serial, None)
            answer(None)

    def _answer(self, conn: _Conn, message: Any) -> None:
        conn.busy = ""
        if conn.guid in self._conns:
            self._send(message)

    def _refuse(self, conn: _Conn, request: str, reason: str, *, close: bool = False,
                keep_busy: bool = False, why: str | None = None) -> None:
        self.refusals += 1
        self.log.info("refused %s from %s (%s): %s%s", request, format_guid(conn.guid), conn.address,
                      reason, f" [{why}]" if why else "")
        if not keep_busy:
            conn.busy = ""
        if conn.guid in self._conns:
            self._send(Refused(conn.guid, self.guid, request, reason))
            if close:
                self._kick(conn.guid, reason)

    def _kick(self, conn_guid: int, reason: str) -> None:
        self._send(Disconnect(conn_guid, self.guid, reason))

    def _send(self, message: Any) -> None:
        try:
            self.send(message)
        except RoutingError as exc:
            self.log.warning("cannot send %s: %s", type(message).__name__, exc)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(connections=len(self._conns), accounts=len(self._accounts), logins=self.logins,
                   resumes=self.resumes, refusals=self.refusals, hashing=self.pool.busy,
                   verifications=self.pool.verifications,
                   pending=len(self._pending))
        return out


def _host(address: str) -> str:
    return address.rpartition(":")[0] or address


def _name_key(name: Any) -> str:
    if not isinstance(name, str):
        return ""
    return unicodedata.normalize("NFKC", name[:100]).casefold()
