"""The persistence module: load and save requests from other nodes, served off the tick.

It owns the Store through a :class:`~engine.persistence.StoreWorker`: the
database runs on the worker's thread, so a slow database delays answers,
never this node's tick or anyone else's. Each tick the module

1. collects the requests that arrived (``SaveEntities``, ``LoadEntities``,
   ``LoadRegion``, ``LoadOwned``, ``ReserveEntityIds``, and the account,
   session and character requests of :mod:`engine.persistence.messages`);
2. hands the worker every save of this tick as **one transaction** (split
   only past ``batch_limit`` rows), then the loads, in that order, so a load
   sees the saves that arrived with it;
3. sends the answers of the jobs the worker finished since the last tick.

Settings: ``url`` (default ``sqlite:///var/spenefett.db``, relative to the
working directory; its folder is created), ``batch_limit`` (most rows per
save transaction, 50,000), ``reply_rows`` (most rows per EntitiesLoaded
message, 2,000), ``max_pending`` (store jobs queued before new requests are
answered at once with an "overloaded" error, 1,000). In a stack file::

    [[module]]
    name = "persistence"
    kind = "persistence"
    [module.settings]
    url = "postgresql://game@db.internal/world"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from engine.dispatch import handles
from engine.engine import RoutingError
from engine.guid import WellKnown
from engine.messages import Message
from engine.modules import Module
from engine.persistence import (
    DEFAULT_URL,
    InvalidInputError,
    NameTakenError,
    NotFoundError,
    SaveOutcome,
    Store,
    StoreWorker,
    open_store,
)
from engine.persistence.messages import (
    AccountReply,
    CharacterLoaded,
    CharactersReply,
    CreateAccount,
    CreateCharacter,
    CreateSession,
    DeleteCharacter,
    EntitiesLoaded,
    EntityIdsReserved,
    ExpireSessions,
    GetAccount,
    GetSession,
    ListCharacters,
    LoadCharacter,
    LoadEntities,
    LoadOwned,
    LoadRegion,
    ReserveEntityIds,
    RevokeAccountSessions,
    RevokeSession,
    SaveEntities,
    SaveResult,
    SessionReply,
    SetPassword,
    SetRoles,
    StoreDone,
)

_MAX_LOAD_IDS = 100_000


@attrs.frozen
class _Call:
    """How to answer one request: from the store's result, or from an error text."""

    answer: Callable[[Any], list[Message]]
    fail: Callable[[str], Message]


@attrs.define
class _Save:
    """One SaveEntities request, remembered until its batch is committed."""

    reply_to: int
    serial: int
    rows: list[Any]


class PersistenceModule(Module):
    kind = "persistence"
    well_known = int(WellKnown.PERSISTENCE)

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        s = self.settings
        self.url = str(s.get("url", DEFAULT_URL))
        self.batch_limit = int(s.get("batch_limit", 50_000))
        self.reply_rows = int(s.get("reply_rows", 2_000))
        self.max_pending = int(s.get("max_pending", 1_000))
        if min(self.batch_limit, self.reply_rows, self.max_pending) < 1:
            raise ValueError("batch_limit, reply_rows and max_pending must be at least 1")
        self._worker: StoreWorker | None = None
        self._saves: list[_Save] = []
        self._jobs: list[tuple[Any, Callable[[Store], Any]]] = []
        self.saved = 0
        self.refused = 0
        self.loads = 0
        self.failures = 0
        self.flushes = 0

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        url = self.url
        self._worker = StoreWorker(lambda: open_store(url), name=f"store-{self.node_id}")
        self._worker.start()  # opening and migrating happens before the first tick, not during one
        self.log.info("persistence store open: %s (%s)", url, self._worker.backend)

    def stop(self) -> None:
        # finish what was asked, then answer it; the transport stops after us and sends the answers
        self._submit()
        if self._worker is not None:
            self._worker.stop()
            self._answer()

    # -- requests ----------------------------------------------------------------------

    @handles(SaveEntities)
    def on_save(self, msg: SaveEntities) -> None:
        self._saves.append(_Save(msg.frm, msg.serial, msg.rows))

    @handles(LoadEntities)
    def on_load_entities(self, msg: LoadEntities) -> None:
        ids = msg.entity_ids
        fail = self._load_failed(msg)
        if len(ids) > _MAX_LOAD_IDS:
            self._reply(fail(f"invalid: at most {_MAX_LOAD_IDS} ids per request"))
            return
        self._call(lambda store: store.load_entities(ids), self._loaded(msg), fail)

    @handles(LoadRegion)
    def on_load_region(self, msg: LoadRegion) -> None:
        region = msg.region
        self._call(lambda store: store.load_region(region), self._loaded(msg), self._load_failed(msg))

    @handles(LoadOwned)
    def on_load_owned(self, msg: LoadOwned) -> None:
        owner = msg.owner
        self._call(lambda store: store.load_owned(owner), self._loaded(msg), self._load_failed(msg))

    @handles(ReserveEntityIds)
    def on_reserve(self, msg: ReserveEntityIds) -> None:
        n, to, me, serial = msg.how_many, msg.frm, self.guid, msg.serial
        self._call(lambda store: store.reserve_entity_ids(n),
                   lambda ids: [EntityIdsReserved(to, me, serial, ids.start, n, "")],
                   lambda error: EntityIdsReserved(to, me, serial, 0, 0, error))

    # accounts, sessions and characters: one store call each, answered with a record or StoreDone

    @handles(CreateAccount)
    def on_create_account(self, msg: CreateAccount) -> None:
        m = msg
        self._call(lambda store: store.create_account(m.name, m.password_hash, m.password_params,
                                                      m.roles, now=m.now),
                   *self._record_reply(m, AccountReply))

    @handles(GetAccount)
    def on_get_account(self, msg: GetAccount) -> None:
        name, account_id = msg.name, msg.account_id
        self._call(lambda store: store.get_account(name) if name else store.get_account_by_id(account_id),
                   *self._record_reply(msg, AccountReply))

    @handles(SetPassword)
    def on_set_password(self, msg: SetPassword) -> None:
        m = msg
        self._call(lambda store: store.set_password(m.account_id, m.password_hash, m.password_params),
                   *self._done_reply(m, lambda _: 1))

    @handles(SetRoles)
    def on_set_roles(self, msg: SetRoles) -> None:
        m = msg
        self._call(lambda store: store.set_roles(m.account_id, m.roles), *self._done_reply(m, lambda _: 1))

    @handles(CreateSession)
    def on_create_session(self, msg: CreateSession) -> None:
        m = msg
        self._call(lambda store: store.create_session(m.token, m.account_id, now=m.now,
                                                      expires_at=m.expires_at),
                   *self._record_reply(m, SessionReply))

    @handles(GetSession)
    def on_get_session(self, msg: GetSession) -> None:
        m = msg
        self._call(lambda store: store.get_session(m.token, now=m.now), *self._record_reply(m, SessionReply))

    @handles(RevokeSession)
    def on_revoke_session(self, msg: RevokeSession) -> None:
        token = msg.token
        self._call(lambda store: store.revoke_session(token), *self._done_reply(msg, int))

    @handles(RevokeAccountSessions)
    def on_revoke_account_sessions(self, msg: RevokeAccountSessions) -> None:
        account_id = msg.account_id
        self._call(lambda store: store.revoke_account_sessions(account_id), *self._done_reply(msg, int))

    @handles(ExpireSessions)
    def on_expire_sessions(self, msg: ExpireSessions) -> None:
        now = msg.now
        self._call(lambda store: store.expire_sessions(now=now), *self._done_reply(msg, int))

    @handles(CreateCharacter)
    def on_create_character(self, msg: CreateCharacter) -> None:
        m, to, me = msg, msg.frm, self.guid
        self._call(lambda store: store.create_character(m.account_id, m.name, m.entity_class, m.state,
                                                        region=m.region, now=m.now),
                   lambda c: [CharactersReply(to, me, m.serial, [_as_list(c)], "")],
                   lambda error: CharactersReply(to, me, m.serial, [], error))

    @handles(ListCharacters)
    def on_list_characters(self, msg: ListCharacters) -> None:
        m, to, me = msg, msg.frm, self.guid
        self._call(lambda store: store.list_characters(m.account_id),
                   lambda cs: [CharactersReply(to, me, m.serial, [_as_list(c) for c in cs], "")],
                   lambda error: CharactersReply(to, me, m.serial, [], error))

    @handles(DeleteCharacter)
    def on_delete_character(self, msg: DeleteCharacter) -> None:
        character_id = msg.character_id
        self._call(lambda store: store.delete_character(character_id), *self._done_reply(msg, int))

    @handles(LoadCharacter)
    def on_load_character(self, msg: LoadCharacter) -> None:
        m, to, me = msg, msg.frm, self.guid

        def answer(found: Any) -> list[Message]:
            if found is None:
                return [CharacterLoaded(to, me, m.serial, None, None, "")]
            return [CharacterLoaded(to, me, m.serial, _as_list(found[0]), found[1].as_list(), "")]

        self._call(lambda store: store.load_character(m.character_id), answer,
                   lambda error: CharacterLoaded(to, me, m.serial, None, None, error))

    # -- building answers ----------------------------------------------------------------

    def _call(self, job: Callable[[Store], Any], answer: Callable[[Any], list[Message]],
              fail: Callable[[str], Message]) -> None:
        self._jobs.append((_Call(answer, fail), job))

    def _loaded(self, msg: Any) -> Callable[[Any], list[Message]]:
        to, me, serial, step = msg.frm, self.guid, msg.serial, self.reply_rows

        def answer(rows: Any) -> list[Message]:
            self.loads += 1
            chunks = [rows[i:i + step] for i in range(0, len(rows), step)] or [[]]
            return [EntitiesLoaded(to, me, serial, [r.as_list() for r in chunk], k == len(chunks) - 1, "")
                    for k, chunk in enumerate(chunks)]
        return answer

    def _load_failed(self, msg: Any) -> Callable[[str], Message]:
        to, me, serial = msg.frm, self.guid, msg.serial
        return lambda error: EntitiesLoaded(to, me, serial, [], True, error)

    def _record_reply(self, msg: Any, reply: Any) -> tuple[Callable[[Any], list[Message]],
                                                           Callable[[str], Message]]:
        to, me, serial = msg.frm, self.guid, msg.serial
        return (lambda record: [reply(to, me, serial, None if record is None else _as_list(record), "")],
                lambda error: reply(to, me, serial, None, error))

    def _done_reply(self, msg: Any, affected: Callable[[Any], int]) -> tuple[
            Callable[[Any], list[Message]], Callable[[str], Message]]:
        to, me, serial = msg.frm, self.guid, msg.serial
        return (lambda result: [StoreDone(to, me, serial, affected(result), "")],
                lambda error: StoreDone(to, me, serial, 0, error))

    # -- the tick --------------------------------------------------------------------------

    def tick(self) -> None:
        self._submit()
        self._answer()

    def _submit(self) -> None:
        worker = self._worker
        if worker is None:
            return
        if worker.pending >= self.max_pending:
            self._refuse_all(f"overloaded: {worker.pending} store jobs queued")
            return
        if self._saves:
            saves, self._saves = self._saves, []
            for batch in _batches(saves, self.batch_limit):
                rows = [row for save in batch for row in save.rows]
                worker.submit(batch, lambda store, rows=rows: store.save_entities(rows))
                self.flushes += 1
        if self._jobs:
            jobs, self._jobs = self._jobs, []
            for tag, job in jobs:
                worker.submit(tag, job)

    def _refuse_all(self, reason: str) -> None:
        """Answer this tick's requests with an error at once, rather than queue without bound."""
        saves, self._saves = self._saves, []
        jobs, self._jobs = self._jobs, []
        self.failures += len(saves) + len(jobs)
        self._answer_saves(saves, None, reason)
        for call, _job in jobs:
            self._reply(call.fail(reason))

    def _answer(self) -> None:
        if self._worker is None:
            return
        for tag, result, error in self._worker.finished():
            if error is not None:
                self.failures += 1
                self.log.info("store job failed: %s: %s", type(error).__name__, error)
            if isinstance(tag, _Call):
                if error is not None:
                    self._reply(tag.fail(_reason(error)))
                    continue
                try:
                    replies = tag.answer(result)
                except Exception as exc:  # a bug building the answer must still answer
                    self.log.exception("building an answer failed")
                    replies = [tag.fail(f"store: {type(exc).__name__}: {exc}")]
                for reply in replies:
                    self._reply(reply)
            else:
                self._answer_saves(tag, result, error)

    def _answer_saves(self, batch: list[_Save], outcome: SaveOutcome | None,
                      error: BaseException | str | None) -> None:
        position = 0
        for save in batch:
            n = len(save.rows)
            if outcome is None:
                reason = error if isinstance(error, str) else _reason(error)
                refused = [[_row_id(row), reason] for row in save.rows]
                self._reply(SaveResult(save.reply_to, self.guid, save.serial, [], refused, reason))
                self.refused += n
                continue
            ids = outcome.ids[position:position + n]
            results = outcome.results[position:position + n]
            position += n
            saved = [i for i, r in zip(ids, results, strict=True) if r is None]
            refused = [[i, r] for i, r in zip(ids, results, strict=True) if r is not None]
            self.saved += len(saved)
            self.refused += len(refused)
            self._reply(SaveResult(save.reply_to, self.guid, save.serial, saved, refused, ""))

    def _reply(self, message: Any) -> None:
        try:
            self.send(message)
        except RoutingError as exc:
            self.log.warning("cannot answer %s: %s", type(message).__name__, exc)

    def status(self) -> dict[str, Any]:
        out = super().status()
        worker = self._worker
        out.update(url=self.url, saved=self.saved, refused=self.refused, loads=self.loads,
                   failures=self.failures, flushes=self.flushes,
                   pending_jobs=worker.pending if worker else 0,
                   db_busy_seconds=round(worker.busy_seconds, 3) if worker else 0.0,
                   last_job_seconds=round(worker.last_job_seconds, 4) if worker else 0.0)
        return out


def _batches(saves: list[_Save], limit: int) -> list[list[_Save]]:
    """Whole requests grouped into transactions of at most ``limit`` rows (one big request alone)."""
    out: list[list[_Save]] = []
    current: list[_Save] = []
    size = 0
    for save in saves:
        n = len(save.rows)
        if current and size + n > limit:
            out.append(current)
            current, size = [], 0
        current.append(save)
        size += n
    if current:
        out.append(current)
    return out


def _row_id(row: Any) -> int | None:
    value = row[0] if isinstance(row, list) and row else None
    return value if type(value) is int and 0 < value < (1 << 63) else None


_CODES = ((NameTakenError, "name_taken"), (NotFoundError, "not_found"), (InvalidInputError, "invalid"))


def _reason(error: BaseException | None) -> str:
    """An error for the wire: a code a program can test, then words for a person."""
    for cls, code in _CODES:
        if isinstance(error, cls):
            return f"{code}: {error}"[:500]
    return f"store: {type(error).__name__}: {error}"[:500]


def _as_list(record: Any) -> list[Any]:
    """An Account, Session or Character as the list its message field carries."""
    return [list(v) if isinstance(v, tuple) else v for v in attrs.astuple(record, recurse=False)]
