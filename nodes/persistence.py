"""The persistence module: load and save requests from other nodes, served off the tick.

It owns the Store through a :class:`~engine.persistence.StoreWorker`: the
database runs on the worker's thread, so a slow database delays answers,
never this node's tick or anyone else's. Each tick the module

1. collects the requests that arrived (``SaveEntities``, ``LoadEntities``,
   ``LoadRegion``, ``LoadOwned``, ``ReserveEntityIds``);
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
from engine.modules import Module
from engine.persistence import DEFAULT_URL, SaveOutcome, Store, StoreWorker, open_store
from engine.persistence.messages import (
    EntitiesLoaded,
    EntityIdsReserved,
    LoadEntities,
    LoadOwned,
    LoadRegion,
    ReserveEntityIds,
    SaveEntities,
    SaveResult,
)

_MAX_LOAD_IDS = 100_000


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
        if len(ids) > _MAX_LOAD_IDS:
            self._reply(EntitiesLoaded(msg.frm, self.guid, msg.serial, [], True,
                                       f"at most {_MAX_LOAD_IDS} ids per request"))
            return
        self._jobs.append((("load", msg.frm, msg.serial), lambda store: store.load_entities(ids)))

    @handles(LoadRegion)
    def on_load_region(self, msg: LoadRegion) -> None:
        region = msg.region
        self._jobs.append((("load", msg.frm, msg.serial), lambda store: store.load_region(region)))

    @handles(LoadOwned)
    def on_load_owned(self, msg: LoadOwned) -> None:
        owner = msg.owner
        self._jobs.append((("load", msg.frm, msg.serial), lambda store: store.load_owned(owner)))

    @handles(ReserveEntityIds)
    def on_reserve(self, msg: ReserveEntityIds) -> None:
        count = msg.how_many
        self._jobs.append((("reserve", msg.frm, msg.serial, count),
                           lambda store: store.reserve_entity_ids(count)))

    # -- the tick --------------------------------------------------------------------------

    def tick(self) -> None:
        self._submit()
        self._answer()

    def _submit(self) -> None:
        worker = self._worker
        if worker is None:
            return
        if worker.pending >= self.max_pending:
            self._refuse_all(f"persistence node overloaded: {worker.pending} store jobs queued")
            return
        if self._saves:
            saves, self._saves = self._saves, []
            for batch in _batches(saves, self.batch_limit):
                rows = [row for save in batch for row in save.rows]
                worker.submit(("save", batch), lambda store, rows=rows: store.save_entities(rows))
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
        for tag, _job in jobs:
            if tag[0] == "load":
                self._reply(EntitiesLoaded(tag[1], self.guid, tag[2], [], True, reason))
            else:
                self._reply(EntityIdsReserved(tag[1], self.guid, tag[2], 0, 0, reason))

    def _answer(self) -> None:
        if self._worker is None:
            return
        for tag, result, error in self._worker.finished():
            if error is not None:
                self.failures += 1
                self.log.warning("store job %s failed: %s: %s", tag[0], type(error).__name__, error)
            if tag[0] == "save":
                self._answer_saves(tag[1], result, error)
            elif tag[0] == "load":
                self._answer_load(tag[1], tag[2], result, error)
            elif tag[0] == "reserve":
                _, to, serial, count = tag
                if error is None:
                    self._reply(EntityIdsReserved(to, self.guid, serial, result.start, count, ""))
                else:
                    self._reply(EntityIdsReserved(to, self.guid, serial, 0, 0, _reason(error)))

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

    def _answer_load(self, to: int, serial: int, rows: Any, error: BaseException | None) -> None:
        if error is not None:
            self._reply(EntitiesLoaded(to, self.guid, serial, [], True, _reason(error)))
            return
        self.loads += 1
        step = self.reply_rows
        chunks = [rows[i:i + step] for i in range(0, len(rows), step)] or [[]]
        for k, chunk in enumerate(chunks):
            self._reply(EntitiesLoaded(to, self.guid, serial, [r.as_list() for r in chunk],
                                       k == len(chunks) - 1, ""))

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


def _reason(error: BaseException | None) -> str:
    return f"store error: {type(error).__name__}: {error}"[:500]
