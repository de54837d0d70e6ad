"""The entity cache without sockets: it is fed persistence answers built by hand."""

from engine.entity_cache import EntityCache
from engine.persistence.messages import EntitiesLoaded, LoadEntities, LoadRegion, SaveEntities, SaveResult

DB, ME = 1000, 2000


def row(eid, version=1, state=b"s", region="start"):
    return [eid, "Character", 7, region, version, state]


def load(cache, rows, now=0.0):
    (req,) = cache.take_requests()
    assert isinstance(req, LoadEntities)
    return cache.on_loaded(EntitiesLoaded(ME, DB, req.serial, rows, True, ""))


def test_acquire_loads_once_and_counts_references():
    cache = EntityCache(persistence=DB, me=ME)
    assert [42] == cache.acquire([42], 0.0)
    assert [42] == cache.acquire([42], 0.0)  # still missing, but not asked twice
    assert ([42], []) == load(cache, [row(42)])
    assert [] == cache.take_requests()
    assert 2 == cache.get(42).refs  # both references, taken before it arrived
    assert [] == cache.acquire([42], 0.0)
    assert 3 == cache.get(42).refs
    assert 1 == cache.active


def test_a_reference_dropped_before_the_entity_arrives_is_not_counted():
    cache = EntityCache(persistence=DB, me=ME)
    cache.acquire([42], 0.0)
    cache.release(42, 0.0)
    load(cache, [row(42)])
    assert 0 == cache.get(42).refs and 0 == cache.active


def test_an_unknown_id_is_reported_missing():
    cache = EntityCache(persistence=DB, me=ME)
    cache.acquire([5, 6], 0.0)
    assert ([5], [6]) == load(cache, [row(5)])
    assert cache.get(6) is None


def test_inactive_entities_are_kept_up_to_the_bound_least_recently_used_first():
    cache = EntityCache(persistence=DB, me=ME, bound=2)
    cache.acquire([1, 2, 3], 0.0)
    load(cache, [row(1), row(2), row(3)])
    for eid in (1, 2, 3):
        cache.release(eid, 0.0)
    assert cache.get(1) is None
    assert cache.get(2) is not None and cache.get(3) is not None
    assert [] == cache.acquire([2], 0.0)  # no load: it was kept


def test_write_behind_sends_one_batch_per_interval_at_the_next_version():
    cache = EntityCache(persistence=DB, me=ME, flush_interval=10.0)
    cache.acquire([1, 2], 0.0)
    load(cache, [row(1, version=4), row(2, version=9)])
    cache.tick(0.0)
    cache.update(1, b"one")
    cache.update(2, b"two")
    cache.tick(5.0)
    assert [] == cache.take_requests()
    cache.tick(10.0)
    (save,) = cache.take_requests()
    assert isinstance(save, SaveEntities)
    assert [[1, "Character", 7, "start", 5, b"one"], [2, "Character", 7, "start", 10, b"two"]] == save.rows
    assert cache.pending_save(1)
    assert [1, 2] == cache.on_save_result(SaveResult(ME, DB, save.serial, [1, 2], [], ""))
    assert not cache.pending_save(1)
    assert 5 == cache.get(1).stored_version
    cache.tick(20.0)
    assert [] == cache.take_requests()  # nothing dirty, nothing sent


def test_releasing_a_dirty_entity_saves_it_at_the_next_tick_and_keeps_it_until_acknowledged():
    cache = EntityCache(persistence=DB, me=ME, bound=0, flush_interval=10.0)
    cache.acquire([1], 0.0)
    load(cache, [row(1)])
    cache.tick(0.0)
    cache.update(1, b"changed")
    cache.release(1, 0.1)
    assert cache.get(1) is not None  # dirty: not evicted
    cache.tick(0.1)
    (save,) = cache.take_requests()
    cache.on_save_result(SaveResult(ME, DB, save.serial, [1], [], ""))
    assert cache.get(1) is None  # saved and inactive past the bound of 0


def test_a_failed_save_is_retried_and_a_stale_one_reloads_the_entity():
    cache = EntityCache(persistence=DB, me=ME, flush_interval=1.0)
    cache.acquire([1, 2], 0.0)
    load(cache, [row(1), row(2)])
    cache.tick(0.0)
    cache.update(1, b"mine")
    cache.update(2, b"mine too")
    cache.tick(1.0)
    (save,) = cache.take_requests()
    cache.on_save_result(SaveResult(ME, DB, save.serial, [], [], "store: disk full"))
    assert cache.pending_save(1)
    cache.tick(2.0)
    (save,) = cache.take_requests()
    assert [3, 3] == [r[4] for r in save.rows]
    cache.on_save_result(SaveResult(ME, DB, save.serial, [1], [[2, "stale: version 3, stored 8"]], ""))
    (reload,) = cache.take_requests()
    assert [2] == reload.entity_ids
    cache.on_loaded(EntitiesLoaded(ME, DB, reload.serial, [row(2, version=8, state=b"theirs")], True, ""))
    assert (8, b"theirs") == (cache.get(2).version, cache.get(2).state)
    assert 1 == cache.stale


def test_preload_region_keeps_its_entities_as_inactive_ones():
    cache = EntityCache(persistence=DB, me=ME)
    cache.preload_region("valley")
    (req,) = cache.take_requests()
    assert isinstance(req, LoadRegion) and "valley" == req.region
    cache.on_loaded(EntitiesLoaded(ME, DB, req.serial, [row(8, region="valley")], True, ""))
    assert 0 == cache.active and 1 == len(cache)
    assert [] == cache.acquire([8], 0.0)
    assert 1 == cache.active
