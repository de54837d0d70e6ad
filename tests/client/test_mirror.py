"""The world mirror fed with real operation messages: interpolation, prediction, corrections, bad input."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.guid import Guid
from engine.login.messages import EnteredWorld
from engine.modules.network_messages import ConnectionLost
from gamelogic import operations as ops
from nodes.client.mirror import WorldMirror

ME = 0x0001_0000_0010_0001
PIG = 0x0001_0000_0020_0001
INN = 0x0001_0000_0020_0002
DOOR = 0x0001_0000_0020_0003


def world_sight(size=(512.0, 512.0)):
    return ops.Sight(Guid(0), Guid(0), entity={
        "guid": 0, "id": "world", "class": "world", "name": "demo", "pos": [0.0, 0.0, 0.0], "yaw": 0.0,
        "health": 0, "max_health": 0,
        "props": {"size": list(size), "cell_size": 8.0, "base": 0.0, "hills": [[400.0, 380.0, 90.0, 14.0]]}})


def sight(guid, cls, pos, name="", props=None, health=30, wid=""):
    return ops.Sight(Guid(0), Guid(guid), entity={
        "guid": guid, "id": wid, "class": cls, "name": name, "pos": list(pos), "yaw": 0.0,
        "health": health, "max_health": health, "props": props or {}})


def moves(*rows):
    return ops.Moves(Guid(0), Guid(0), updates=ops.pack_moves(rows))


def entered(pos=(100.0, 100.0, 0.0)):
    return EnteredWorld(Guid(0), Guid(0), Guid(ME), {"character": {"name": "Ann", "position": list(pos),
                                                                   "yaw": 90.0}})


@pytest.fixture
def mirror():
    m = WorldMirror(render_delay=0.1, lag=0.1, correction_time=0.3)
    m.apply([entered(), world_sight()], 0.0)
    return m


def test_entering_names_the_avatar_and_builds_the_terrain(mirror):
    assert mirror.me == ME
    assert mirror.terrain is not None and mirror.terrain.width == 512.0
    assert mirror.terrain.height_at(400.0, 380.0) == pytest.approx(14.0, abs=0.5)
    x, y, _, yaw = mirror.position(ME, 0.0)
    assert (x, y, yaw) == (100.0, 100.0, 90.0)


def test_a_sighted_entity_takes_its_class_look(mirror):
    mirror.apply([sight(PIG, "pig", (110.0, 100.0, 0.0), "pig")], 0.0)
    pig = mirror.entity(PIG)
    assert pig.colour == (0.95, 0.6, 0.65) and pig.radius == 0.5 and pig.known_class
    assert mirror.position(PIG, 1.0)[:2] == (110.0, 100.0)


def test_remote_positions_are_interpolated_render_delay_behind(mirror):
    mirror.apply([sight(PIG, "pig", (0.0, 0.0, 0.0))], 1.0)
    mirror.apply([moves([PIG, 1.0, 0.0, 0.0, 0.0])], 1.05)
    mirror.apply([moves([PIG, 2.0, 0.0, 0.0, 0.0])], 1.10)
    # drawn 0.1 s in the past: at 1.175 that is 1.075, halfway between the 1.05 and 1.10 updates
    assert mirror.position(PIG, 1.175)[0] == pytest.approx(1.5)
    assert mirror.position(PIG, 1.15)[0] == pytest.approx(1.0)
    # past the newest update it holds the newest position, before the oldest the oldest
    assert mirror.position(PIG, 5.0)[0] == 2.0
    assert mirror.position(PIG, 0.5)[0] == 0.0


def test_yaw_interpolates_the_short_way_round(mirror):
    mirror.apply([sight(PIG, "pig", (0.0, 0.0, 0.0))], 1.0)
    mirror.apply([moves([PIG, 0.0, 0.0, 0.0, 350.0])], 1.0)
    mirror.apply([moves([PIG, 0.0, 0.0, 0.0, 10.0])], 1.1)
    yaw = mirror.position(PIG, 1.15)[3]
    assert min(yaw, 360.0 - yaw) == pytest.approx(0.0, abs=1e-6)  # not 180, the long way


def test_prediction_moves_the_avatar_at_once(mirror):
    for _ in range(10):
        mirror.predict(5.0, 0.0, 0.1, yaw=0.0)
    x, y, z, yaw = mirror.position(ME, 1.0)
    assert x == pytest.approx(105.0) and y == pytest.approx(100.0) and yaw == 0.0
    assert z == pytest.approx(mirror.terrain.height_at(105.0, 100.0))


def test_a_server_that_agrees_causes_no_correction(mirror):
    t = 0.0
    for step in range(1, 21):
        mirror.predict(4.0, 0.0, 0.05)
        t += 0.05
        # the server answers lag (0.1 s = two steps) late, exactly where we were then
        if step >= 2:
            mirror.apply([moves([ME, 100.0 + 4.0 * 0.05 * (step - 2), 100.0, 0.0, 0.0])], t)
    assert mirror.counts["corrections"] == 0
    assert mirror.position(ME, t)[0] == pytest.approx(104.0)


def test_a_disagreeing_server_is_glided_to_not_jumped_to(mirror):
    mirror.predict(0.0, 0.0, 0.5)
    # the server says a wall stopped us 2 m west of where we think we are
    mirror.apply([moves([ME, 98.0, 100.0, 0.0, 0.0])], 0.5)
    right_after = mirror.position(ME, 0.5)[0]
    assert right_after == pytest.approx(100.0)  # nothing jumps
    xs = [mirror.predict(0.0, 0.0, 0.05)[0] for _ in range(20)]
    assert all(a >= b for a, b in zip(xs, xs[1:], strict=False))  # glides monotonically
    assert xs[0] < 100.0 and xs[-1] == pytest.approx(98.0, abs=0.01)
    assert mirror.counts["corrections"] == 1
    # once corrected, the same server position is no news
    mirror.apply([moves([ME, 98.0, 100.0, 0.0, 0.0])], 1.6)
    assert mirror.counts["corrections"] == 1


def test_a_far_server_position_is_a_snap(mirror):
    mirror.predict(1.0, 0.0, 0.1)
    mirror.apply([moves([ME, 250.0, 250.0, 0.0, 0.0])], 0.2)  # respawned at the bind point
    assert mirror.position(ME, 0.2)[:2] == (250.0, 250.0)


def test_prediction_stays_inside_the_world(mirror):
    for _ in range(100):
        mirror.predict(-10.0, 0.0, 1.0)
    assert mirror.position(ME, 0.0)[0] == 0.0


def test_a_moves_entry_for_an_entity_never_seen_is_counted_and_ignored(mirror):
    mirror.apply([moves([PIG + 99, 1.0, 2.0, 3.0, 0.0], [ME, 100.5, 100.0, 0.0, 0.0])], 0.1)
    assert mirror.counts["unknown_entity"] == 1
    assert PIG + 99 not in mirror.entities
    assert mirror.my_server_position() == (100.5, 100.0, 0.0)


@pytest.mark.parametrize("bad", [
    ops.Sight(Guid(0), Guid(0), entity=None),
    ops.Sight(Guid(0), Guid(0), entity={"guid": 5, "class": "pig", "pos": [1.0, "x", 2.0]}),
    ops.Sight(Guid(0), Guid(0), entity={"guid": 5, "class": "pig", "pos": [1.0, 2.0]}),
    ops.Sight(Guid(0), Guid(0), entity={"guid": 5, "class": "pig", "pos": [math.nan, 2.0, 0.0]}),
    ops.Sight(Guid(0), Guid(0), entity={"guid": "five", "class": "pig", "pos": [1.0, 2.0, 0.0]}),
    ops.Sight(Guid(0), Guid(0), entity={"guid": 0, "class": "world", "props": {"size": "big"}}),
    ops.Moves(Guid(0), Guid(0), updates=None),
    ops.Moves(Guid(0), Guid(0), updates=[[PIG, 1.0, 2.0, 0.0, 0.0]]),  # rows not packed
    ops.Moves(Guid(0), Guid(0), updates=b"\x00" * 23),  # not a whole row
    ops.Moves(Guid(0), Guid(0), updates=ops.pack_moves([[PIG, math.inf, 0.0, 0.0, 0.0],
                                                       [PIG, math.nan, 0.0, 0.0, 0.0]])),
    ops.Set(Guid(0), Guid(0), target=Guid(PIG), props={"health": "lots"}),
    ops.Stats(Guid(0), Guid(0), state=["not", "a", "dict"]),
    ops.Hit(Guid(0), Guid(0), target=Guid(12345), attacker=Guid(ME), damage=3, health=7, what="sword"),
    ops.Disappear(Guid(0), Guid(0), target=Guid(424242)),
    ConnectionLost(Guid(0), Guid(0), "server closed: bye"),
    ("not", "a", "message"),
])
def test_bad_input_never_raises_and_leaves_the_world_usable(mirror, bad):
    mirror.apply([sight(PIG, "pig", (110.0, 100.0, 0.0))], 0.0)
    mirror.apply([bad], 0.1)
    mirror.apply([moves([PIG, 111.0, 100.0, 0.0, 0.0])], 0.2)
    assert mirror.position(PIG, 1.0)[0] == 111.0


def test_an_unknown_class_is_kept_with_the_default_look(mirror):
    mirror.apply([sight(PIG, "dragon", (1.0, 2.0, 0.0), "Smaug")], 0.0)
    dragon = mirror.entity(PIG)
    assert dragon.cls == "dragon" and not dragon.known_class and dragon.colour == (0.6, 0.6, 0.6)
    assert mirror.counts["unknown_class"] == 1
    assert mirror.nearest(1.0, 2.0, kind="creature") is None
    assert mirror.nearest(1.0, 2.0) is dragon


def test_health_hits_and_deaths_reach_entities_log_and_events(mirror):
    mirror.apply([sight(PIG, "pig", (101.0, 100.0, 0.0), "pig")], 0.0)
    mirror.apply([ops.Hit(Guid(0), Guid(0), target=Guid(PIG), attacker=Guid(ME), damage=12, health=18,
                          what="sword")], 0.1)
    assert mirror.entity(PIG).health == 18
    mirror.apply([ops.Death(Guid(0), Guid(0), target=Guid(PIG), killer=Guid(ME), corpse=Guid(77))], 0.2)
    assert mirror.entity(PIG).dead
    kinds = [e.kind for e in mirror.take_events()]
    assert kinds == ["hit", "death"] and mirror.take_events() == []
    assert [line.text for line in mirror.log][-2:] == ["You hit pig for 12", "Pig died"]


def test_stats_remember_which_skills_rose(mirror):
    state = {"name": "Ann", "health": 100, "skills": {"swordsmanship": 10.0, "archery": 5.0}}
    mirror.apply([ops.Stats(Guid(0), Guid(0), state=state)], 1.0)
    state = dict(state, skills={"swordsmanship": 10.5, "archery": 5.0})
    mirror.apply([ops.Stats(Guid(0), Guid(0), state=state)], 2.0)
    assert mirror.skill_gains == {"swordsmanship": (0.5, 2.0)}
    assert mirror.stats["skills"]["swordsmanship"] == 10.5


def test_chat_talk_and_info_go_to_the_log(mirror):
    mirror.apply([sight(PIG, "trader", (101.0, 100.0, 0.0), "Olaf")], 0.0)
    mirror.apply([ops.Heard(Guid(0), Guid(0), channel="global", speaker="Bob", text="hi all"),
                  ops.Sound(Guid(0), Guid(0), source=Guid(PIG), what="talk", text="A fine pig!",
                            x=101.0, y=100.0, z=0.0),
                  ops.Info(Guid(0), Guid(0), text="refused: too far away")], 0.5)
    assert [(line.kind, line.text) for line in list(mirror.log)[-3:]] == [
        ("chat", "[global] Bob: hi all"), ("talk", "Olaf: A fine pig!"), ("info", "refused: too far away")]


def test_doors_cut_gaps_in_the_walls_and_a_set_updates_them(mirror):
    mirror.apply([sight(INN, "building", (200.0, 200.0, 0.0), "inn", {"size": [10.0, 8.0], "rooms": [],
                                                                       "height": 4.0}, wid="inn")], 0.0)
    solid = sum(abs(w.b[0] - w.a[0]) + abs(w.b[1] - w.a[1]) for w in mirror.walls())
    assert solid == pytest.approx(36.0)
    version = mirror.stage_version
    mirror.apply([sight(DOOR, "door", (200.0, 196.0, 0.0), "door", {"open": False}, wid="inn.door")], 0.0)
    assert mirror.stage_version > version
    with_door = sum(abs(w.b[0] - w.a[0]) + abs(w.b[1] - w.a[1]) for w in mirror.walls())
    assert with_door == pytest.approx(36.0 - 1.6)
    mirror.apply([ops.Set(Guid(0), Guid(DOOR), target=Guid(DOOR), props={"open": True})], 0.1)
    assert mirror.entity(DOOR).props["open"] is True


def test_disappear_forgets_and_connection_lost_is_remembered(mirror):
    mirror.apply([sight(PIG, "pig", (101.0, 100.0, 0.0))], 0.0)
    mirror.apply([ops.Disappear(Guid(0), Guid(PIG), target=Guid(PIG))], 0.1)
    assert mirror.entity(PIG) is None and mirror.position(PIG, 0.2) is None
    mirror.apply([ConnectionLost(Guid(0), Guid(0), "server closed: shutting down")], 0.2)
    assert mirror.lost == "server closed: shutting down"


def test_the_world_sight_may_come_before_entered_world():
    m = WorldMirror()
    m.apply([world_sight(), entered((10.0, 20.0, 0.0))], 0.0)
    assert m.terrain is not None and m.me == ME
    assert m.position(ME, 0.0)[2] == pytest.approx(m.terrain.height_at(10.0, 20.0))


def test_jitter_under_the_dead_zone_is_no_correction(mirror):
    mirror.predict(0.0, 0.0, 0.5)
    mirror.apply([moves([ME, 100.1, 100.05, 0.0, 0.0])], 0.5)
    assert mirror.counts["corrections"] == 0 and mirror.position(ME, 0.5)[:2] == (100.0, 100.0)


def test_the_lag_is_learned_from_starts_of_walking_and_then_nothing_needs_correcting():
    m = WorldMirror(lag=0.05, dead_zone=0.2)
    m.apply([entered(), world_sight()], 0.0)
    delay, t, x = 0.3, 0.0, 100.0
    intents = []  # (time, vx): what the server acts on delay seconds later
    corrections_per_burst = []
    for _burst in range(5):
        before = m.counts["corrections"]
        for step in range(50):  # 1.5 s walking at 4 m/s, then 1 s standing
            vx = 4.0 if step < 30 else 0.0
            intents.append((t, vx))
            m.predict(vx, 0.0, 0.05)
            t += 0.05
            acted = [v for when, v in intents if when <= t - delay]
            if acted:
                x += acted[-1] * 0.05
                m.apply([moves([ME, x, 100.0, 0.0, 0.0])], t)
        corrections_per_burst.append(m.counts["corrections"] - before)
    assert m.lag == pytest.approx(delay, abs=0.06)
    assert corrections_per_burst[-1] == 0 and corrections_per_burst[0] > 0


_GUID = st.one_of(st.sampled_from([ME, PIG, INN, DOOR, 0, 7]), st.integers(0, 2**64 - 1))
_ROW = st.tuples(_GUID, *[st.floats(width=32)] * 4)  # any float32: NaN and the infinities too


def _entities():
    from nodes.client.mirror import Entity
    return {PIG: Entity(PIG, "pig"), INN: Entity(INN, "building"), DOOR: Entity(DOOR, "door")}


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(_ROW, max_size=12).map(ops.pack_moves), me=st.sampled_from([ME, 0]))
def test_the_c_moves_loop_does_what_the_python_loop_does(rows, me):
    """native/mirror.c against its reference: the same counts, own positions and samples, for any rows."""
    from nodes.client.mirror import apply_moves_python

    native_mirror = pytest.importorskip("native._mirror")  # an unbuilt tree has only the Python loop
    python_entities, c_entities = _entities(), _entities()
    expected = apply_moves_python(rows, python_entities, 12.5, me)
    got = native_mirror.apply_moves(rows, _index(native_mirror, c_entities), 12.5, me)  # as a mirror looks up
    assert got == expected
    for guid, ent in python_entities.items():
        assert list(c_entities[guid].samples) == list(ent.samples)

    # entities that keep deques (a source tree without native._mirror) take the same rows
    from collections import deque
    deque_entities = _entities()
    for ent in deque_entities.values():
        ent.samples = deque(maxlen=8)
    assert expected == apply_moves_python(rows, deque_entities, 12.5, me)
    for guid, ent in python_entities.items():
        assert list(deque_entities[guid].samples) == list(ent.samples)


def _index(native_mirror, entities):
    index = native_mirror.Index()
    for guid, ent in entities.items():
        index[guid] = ent.samples
    return index


def test_both_moves_loops_refuse_rows_that_are_not_whole():
    from nodes.client.mirror import apply_moves_python

    native_mirror = pytest.importorskip("native._mirror")
    torn = ops.pack_moves([[PIG, 1.0, 2.0, 3.0, 0.0]])[:-1]
    with pytest.raises(ValueError, match="whole number of 24-byte rows"):
        apply_moves_python(torn, _entities(), 1.0, ME)
    with pytest.raises(ValueError, match="whole number of 24-byte rows"):
        native_mirror.apply_moves(torn, _index(native_mirror, _entities()), 1.0, ME)


_SAMPLE = st.tuples(*[st.floats(allow_nan=False) | st.integers(-2**40, 2**40)] * 5)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 10),
       steps=st.lists(st.one_of(st.tuples(st.just("append"), _SAMPLE), st.just(("clear",)),
                                st.tuples(st.just("item"), st.integers(-12, 12))), max_size=40))
def test_a_samples_ring_reads_like_a_deque_with_a_maxlen(capacity, steps):
    """native._mirror.Samples: the same appends, clears and reads as deque(maxlen), as floats."""
    from collections import deque

    samples = pytest.importorskip("native._mirror").Samples(capacity)
    model: deque = deque(maxlen=capacity)
    for step in steps:
        if step[0] == "append":
            samples.append(step[1])
            model.append(tuple(float(v) for v in step[1]))
        elif step[0] == "clear":
            samples.clear()
            model.clear()
        else:
            try:
                expected = model[step[1]]
            except IndexError:
                with pytest.raises(IndexError):
                    samples[step[1]]
            else:
                assert expected == samples[step[1]]
        assert (list(model), len(model), bool(model)) == (list(samples), len(samples), bool(samples))
    assert capacity == samples.maxlen


def test_a_samples_ring_refuses_what_is_not_a_sample():
    samples_type = pytest.importorskip("native._mirror").Samples
    with pytest.raises(ValueError, match="capacity must be 1..64"):
        samples_type(0)
    ring = samples_type(2)
    with pytest.raises(ValueError, match="takes .time, x, y, z, yaw."):
        ring.append((1.0, 2.0))
    with pytest.raises(TypeError):
        ring.append((1.0, 2.0, "x", 3.0, 4.0))
    assert 0 == len(ring)  # a refused sample leaves nothing behind


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["set", "del", "discard", "in"]),
                                st.one_of(st.integers(0, 40), st.integers(0, 2**64 - 1))), max_size=300))
def test_an_index_holds_what_a_dict_holds(steps):
    """native._mirror.Index (linear probing, entries shifted back on deletion) against a dict."""
    native_mirror = pytest.importorskip("native._mirror")
    index, held = native_mirror.Index(), {}
    for n, (op, guid) in enumerate(steps):
        if op == "set":
            index[guid] = held[guid] = native_mirror.Samples(1 + n % 8)
        elif op == "del":
            if guid in held:
                del index[guid], held[guid]
            else:
                with pytest.raises(KeyError):
                    del index[guid]
        elif op == "discard":
            index.discard(guid)
            held.pop(guid, None)
        assert (guid in index) == (guid in held)
    assert len(index) == len(held) and sorted(index.keys()) == sorted(held)
    assert all(index[g] is samples for g, samples in held.items())
    with pytest.raises(TypeError):
        index[1] = [0.0] * 5  # only rings
    with pytest.raises(KeyError):
        index[-1] = native_mirror.Samples(2)


def test_moves_reach_an_entity_seen_again_and_none_after_it_left(mirror):
    mirror.apply([sight(PIG, "pig", (110.0, 100.0, 0.0)), moves([PIG, 111.0, 100.0, 0.0, 0.0])], 0.0)
    assert mirror.position(PIG, 1.0)[0] == 111.0
    gone = ops.Disappear(Guid(0), Guid(0), target=Guid(PIG))
    mirror.apply([gone, moves([PIG, 112.0, 100.0, 0.0, 0.0])], 0.1)
    assert PIG not in mirror.entities and mirror.counts["unknown_entity"] == 1
    mirror.apply([sight(PIG, "pig", (120.0, 100.0, 0.0)), moves([PIG, 121.0, 100.0, 0.0, 0.0])], 0.2)
    assert mirror.position(PIG, 1.0)[0] == 121.0
    mirror.clear()
    mirror.apply([moves([PIG, 130.0, 100.0, 0.0, 0.0])], 0.3)
    assert mirror.counts["unknown_entity"] == 2
