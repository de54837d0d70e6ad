"""EntityCache: a gamelogic node's entities in front of persistence, written behind.

Sans I/O: the cache produces persistence request messages
(``LoadEntities``, ``LoadRegion``, ``SaveEntities``) and consumes their
answers; its host module sends the one and feeds back the other, and hands
it the engine clock's time. What it keeps:

- **Active entities**, counted by reference: ``acquire`` adds a reference
  (loading the entity if it is not here), ``release`` drops one.
- **Recently used inactive entities**, up to ``bound`` of them, least
  recently used evicted first: a player who logs out and back in, or a
  region entered again, costs no database read.
- **Preloaded regions**: ``preload_region`` loads a region's entities as
  inactive ones before players arrive.
- **Write-behind**: ``update`` replaces an entity's state and marks it
  dirty; every ``flush_interval`` seconds (and when a dirty entity is
  released) all dirty entities go out in one ``SaveEntities``, each at
  the next version. An entity is never evicted while dirty or in flight.
  A save refused as stale (someone else wrote a newer version) is logged
  and the entity reloaded; a failed save leaves it dirty for the next flush.

::

    cache = EntityCache(persistence=store_guid, me=host.guid, flush_interval=10.0)
    cache.acquire([42], now)                 # 42 not here: a LoadEntities is queued
    for m in cache.take_requests(): host.send(m)
    ...  # EntitiesLoaded arrives
    arrived, missing = cache.on_loaded(msg)  # ([42], [])
    cache.update(42, new_state)              # dirty; saved within flush_interval
    cache.tick(now)                          # queues SaveEntities when due
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from engine.persistence.messages import (
    EntitiesLoaded,
    LoadEntities,
    LoadRegion,
    SaveEntities,
    SaveResult,
)

__all__ = ["CachedEntity", "EntityCache"]

log = logging.getLogger("spenefett.entity_cache")


class CachedEntity:
    """One entity row held in memory, with its reference count and save state."""

    __slots__ = ("entity_id", "cls", "owner", "region", "version", "stored_version", "state",
                 "refs", "dirty")

    def __init__(self, row: list[Any]):
        self.entity_id, self.cls, self.owner, self.region, self.version, self.state = row
        self.stored_version: int = self.version
        """The highest version persistence acknowledged."""
        self.refs = 0
        self.dirty = False

    def row(self) -> list[Any]:
        return [self.entity_id, self.cls, self.owner, self.region, self.version, self.state]


class EntityCache:
    """Reference-counted entities, an LRU of inactive ones, and write-behind; see the module docs."""

    def __init__(self, *, persistence: int, me: int, bound: int = 10_000, flush_interval: float = 10.0):
        if bound < 0 or not flush_interval > 0:
            raise ValueError("bound >= 0 and flush_interval > 0")
        self.persistence = persistence
        self.me = me
        self.bound = bound
        self.flush_interval = flush_interval
        self._entities: dict[int, CachedEntity] = {}
        self._inactive: OrderedDict[int, None] = OrderedDict()  # refs == 0, oldest first
        self._loading: dict[int, set[int]] = {}  # serial -> ids asked for (LoadEntities)
        self._regions: dict[int, str] = {}  # serial -> region (LoadRegion)
        self._in_flight_ids: set[int] = set()
        self._saving: dict[int, dict[int, int]] = {}  # serial -> {entity_id: version}
        self._wanted: dict[int, int] = {}  # acquired, not here yet -> references waiting
        self._requests: list[Any] = []
        self._serial = 0
        self._next_flush: float | None = None
        self._flush_soon = False
        self.saves = 0
        """SaveEntities batches sent."""
        self.stale = 0
        """Rows refused as stale (each reloaded)."""

    # -- what the host asks ----------------------------------------------------------------

    def acquire(self, entity_ids: Iterable[int], now: float) -> list[int]:
        """Add a reference to each entity; returns the ids that must be loaded first."""
        missing = []
        for eid in entity_ids:
            entity = self._entities.get(eid)
            if entity is None:
                missing.append(eid)
                self._wanted[eid] = self._wanted.get(eid, 0) + 1
                continue
            if entity.refs == 0:
                self._inactive.pop(eid, None)
            entity.refs += 1
        to_load = [eid for eid in missing if not self._is_loading(eid)]
        if to_load:
            self._requests.append(LoadEntities(self.persistence, self.me, self._next(), to_load))
            self._loading[self._serial] = set(to_load)
        return missing

    def release(self, entity_id: int, now: float) -> None:
        """Drop a reference; an entity left dirty is saved at the next ``tick``."""
        waiting = self._wanted.get(entity_id)
        if waiting is not None:  # not loaded yet: it arrives with one reference fewer
            if waiting > 1:
                self._wanted[entity_id] = waiting - 1
            else:
                del self._wanted[entity_id]
            return
        entity = self._entities.get(entity_id)
        if entity is None or entity.refs == 0:
            return
        entity.refs -= 1
        if entity.refs == 0:
            self._inactive[entity_id] = None
            if entity.dirty:
                self._flush_soon = True
            self._evict()

    def preload_region(self, region: str) -> None:
        """Load ``region``'s entities as inactive ones (kept until the LRU bound evicts them)."""
        self._requests.append(LoadRegion(self.persistence, self.me, self._next(), region))
        self._regions[self._serial] = region

    def add(self, entity_id: int, cls: str, region: str | None, state: bytes, *,
            owner: int | None = None) -> None:
        """A new entity (its id reserved from persistence), held with one reference, saved soon."""
        if entity_id in self._entities or entity_id in self._wanted:
            raise ValueError(f"entity {entity_id} is already in the cache")
        entity = self._entities[entity_id] = CachedEntity([entity_id, cls, owner, region, 0, state])
        entity.refs = 1
        entity.dirty = True
        self._flush_soon = True

    def get(self, entity_id: int) -> CachedEntity | None:
        return self._entities.get(entity_id)

    def update(self, entity_id: int, state: bytes) -> None:
        """Replace the entity's state; it is written behind (within ``flush_interval``)."""
        entity = self._entities[entity_id]
        entity.state = state
        entity.dirty = True

    def pending_save(self, entity_id: int) -> bool:
        """True while the entity has changes persistence has not acknowledged."""
        entity = self._entities.get(entity_id)
        return entity is not None and (entity.dirty or entity_id in self._in_flight_ids)

    def flush(self) -> None:
        """Save every dirty entity at the next ``tick`` (a logout, a takeover, a clean stop)."""
        self._flush_soon = True

    def tick(self, now: float) -> None:
        """Queue the write-behind batch when it is due."""
        if self._next_flush is None:
            self._next_flush = now + self.flush_interval
        if self._flush_soon or now >= self._next_flush:
            self._flush_soon = False
            self._next_flush = now + self.flush_interval
            self._write_dirty()

    def take_requests(self) -> list[Any]:
        """The persistence requests to send now (and forget)."""
        out, self._requests = self._requests, []
        return out

    # -- what persistence answers ---------------------------------------------------------------

    def on_loaded(self, msg: EntitiesLoaded) -> tuple[list[int], list[int]]:
        """Take loaded rows; returns (ids that arrived, ids asked for that do not exist)."""
        arrived: list[int] = []
        if msg.error:
            log.warning("load %d failed: %s", msg.serial, msg.error)
        for row in msg.rows:
            eid = row[0]
            entity = self._entities.get(eid)
            if entity is not None and (entity.dirty or eid in self._in_flight_ids):
                continue  # ours is newer than what the database had
            if entity is None:
                entity = self._entities[eid] = CachedEntity(list(row))
                entity.refs = self._wanted.pop(eid, 0)
                if not entity.refs:
                    self._inactive[eid] = None
            else:  # a reload after a stale save: take the stored row
                entity.cls, entity.owner, entity.region, entity.version, entity.state = row[1:]
                entity.stored_version = entity.version
            arrived.append(eid)
        missing: list[int] = []
        asked = self._loading.get(msg.serial)
        if asked is not None:
            asked.difference_update(arrived)
            if msg.done:
                del self._loading[msg.serial]
                missing = sorted(eid for eid in asked if eid not in self._entities)
                for eid in missing:
                    self._wanted.pop(eid, None)
        elif msg.done:
            self._regions.pop(msg.serial, None)
        self._evict()
        return arrived, missing

    def on_save_result(self, msg: SaveResult) -> list[int]:
        """Take a save's answer; returns the ids it acknowledged."""
        versions = self._saving.pop(msg.serial, None)
        if versions is None:
            return []
        self._in_flight_ids.difference_update(versions)
        if msg.error:  # nothing was written: try again at the next flush
            log.warning("save %d failed (%d entities, retried): %s", msg.serial, len(versions), msg.error)
            for eid in versions:
                entity = self._entities.get(eid)
                if entity is not None:
                    entity.dirty = True
            return []
        for eid in msg.saved_ids:
            entity = self._entities.get(eid)
            if entity is not None:
                entity.stored_version = max(entity.stored_version, versions.get(eid, 0))
        reload = []
        for eid, reason in msg.refused:
            self.stale += 1
            log.warning("entity %s not saved: %s; reloading it", eid, reason)
            if eid in self._entities:
                self._entities[eid].dirty = False
                reload.append(eid)
        if reload:
            self._requests.append(LoadEntities(self.persistence, self.me, self._next(), reload))
            self._loading[self._serial] = set()
        self._evict()
        return list(msg.saved_ids)

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entities)

    @property
    def active(self) -> int:
        return len(self._entities) - len(self._inactive)

    @property
    def dirty(self) -> int:
        return sum(1 for e in self._entities.values() if e.dirty)

    def status(self) -> dict[str, Any]:
        return {"entities": len(self._entities), "active": self.active, "dirty": self.dirty,
                "in_flight": len(self._in_flight_ids), "saves": self.saves, "stale": self.stale}

    # -- internals ---------------------------------------------------------------------------------

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _is_loading(self, eid: int) -> bool:
        return any(eid in ids for ids in self._loading.values())

    def _write_dirty(self) -> None:
        rows, versions = [], {}
        for entity in self._entities.values():
            if entity.dirty:
                entity.version += 1
                entity.dirty = False
                rows.append(entity.row())
                versions[entity.entity_id] = entity.version
        if not rows:
            return
        self.saves += 1
        self._requests.append(SaveEntities(self.persistence, self.me, self._next(), rows))
        self._saving[self._serial] = versions
        self._in_flight_ids.update(versions)

    def _evict(self) -> None:
        while len(self._inactive) > self.bound:
            for eid in self._inactive:
                entity = self._entities[eid]
                if not entity.dirty and eid not in self._in_flight_ids:
                    del self._inactive[eid]
                    del self._entities[eid]
                    break
            else:
                return  # every inactive entity waits for a save
