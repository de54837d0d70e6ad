"""Hypothesis: random acquire/release/update/flush/answer sequences keep the cache's promises."""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.entity_cache import EntityCache
from engine.persistence.messages import EntitiesLoaded, LoadEntities, SaveEntities, SaveResult

DB, ME = 1000, 2000
IDS = st.integers(1, 6)
OPS = st.lists(st.one_of(
    st.tuples(st.just("acquire"), IDS),
    st.tuples(st.just("release"), IDS),
    st.tuples(st.just("update"), IDS),
    st.tuples(st.just("tick"), st.floats(0.0, 3.0)),
    st.tuples(st.just("answer"), st.sampled_from(["ok", "error", "stale"])),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(OPS, st.integers(0, 3))
def test_nothing_unsaved_is_evicted_and_every_save_is_a_newer_version(ops, bound):
    cache = EntityCache(persistence=DB, me=ME, bound=bound, flush_interval=1.0)
    stored = {}  # what the "database" holds: entity id -> (version, state)
    refs = {}  # our own count of references
    pending = []  # requests not yet answered
    now = 0.0
    written = 0
    for op, arg in ops:
        if op == "acquire":
            cache.acquire([arg], now)
            refs[arg] = refs.get(arg, 0) + 1
        elif op == "release" and refs.get(arg):
            cache.release(arg, now)
            refs[arg] -= 1
        elif op == "update" and refs.get(arg) and cache.get(arg) is not None:
            written += 1
            cache.update(arg, f"state {written}".encode())
        elif op == "tick":
            now += arg
            cache.tick(now)
        elif op == "answer" and pending:
            req = pending.pop(0)
            if isinstance(req, LoadEntities):
                rows = [[i, "C", 1, "r", *stored.get(i, (1, b"fresh"))] for i in req.entity_ids]
                cache.on_loaded(EntitiesLoaded(ME, DB, req.serial, rows, True, ""))
            elif isinstance(req, SaveEntities):
                if arg == "error":
                    cache.on_save_result(SaveResult(ME, DB, req.serial, [], [], "store: down"))
                    continue
                saved, refused = [], []
                for row in req.rows:
                    eid, version = row[0], row[4]
                    if arg == "stale" or version <= stored.get(eid, (1, b""))[0]:
                        refused.append([eid, "stale"])
                    else:
                        stored[eid] = (version, row[5])
                        saved.append(eid)
                cache.on_save_result(SaveResult(ME, DB, req.serial, saved, refused, ""))
        for req in cache.take_requests():
            if isinstance(req, SaveEntities):
                for row in req.rows:
                    assert row[4] > cache.get(row[0]).stored_version or row[0] not in stored
            pending.append(req)
        for eid, count in refs.items():
            entity = cache.get(eid)
            if count and entity is not None:
                assert count == entity.refs  # an entity in use is counted exactly
        for eid in range(1, 7):
            if cache.pending_save(eid):
                assert cache.get(eid) is not None  # unsaved state is never evicted
        inactive = [e for e in range(1, 7) if cache.get(e) is not None and cache.get(e).refs == 0
                    and not cache.pending_save(e)]
        assert len(inactive) <= bound
