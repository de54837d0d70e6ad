"""Garbage in physics messages: the module never fails, and a stranger cannot move the owner's bodies.

Messages are built with the field types the wire decoder enforces (a float
field holds a float, a list a list) and anything at all inside them: NaN,
huge numbers, rows of the wrong length, strings where numbers belong.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from physics_support import WORLD, capsule, scene_messages

from engine.guid import make
from engine.modules.physics import PhysicsModule
from engine.physics import messages as pm
from engine.physics.messages import BODY_KINDS, MoveIntents, PhysicsStep, ResolvedPoses
from engine.testing import Harness, Probe

NODE = 2001
HERO = make(NODE, 5, 1)

junk = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 70), 1 << 70), st.floats(),
                 st.text(max_size=5), st.binary(max_size=8))
row = st.lists(st.one_of(junk, st.just(HERO), st.floats(-100, 100)), max_size=9)
FIELD = {
    "int": st.one_of(st.integers(-(1 << 63), (1 << 63) - 1), st.sampled_from([WORLD, 0, 1, 2, 65])),
    "float": st.one_of(st.floats(), st.floats(-200, 200)),
    "bool": st.booleans(),
    "str": st.one_of(st.sampled_from(BODY_KINDS), st.text(max_size=8)),
    "bytes": st.binary(max_size=64),
    "guid": st.one_of(st.integers(0, (1 << 64) - 1), st.just(HERO), st.just(0)),
}
INBOUND = [pm.PhysicsReset, pm.PhysicsTerrain, pm.PhysicsStatics, pm.PhysicsRemoveStatics, pm.PhysicsAddBody,
           pm.PhysicsRemoveBody, pm.MoveIntents, pm.SpawnProjectile, pm.PhysicsStep]


def _field(ft):
    if ft.kind == "list":
        if ft.element is not None and ft.element.kind == "int":
            return st.lists(FIELD["int"], max_size=4)
        return st.lists(st.one_of(row, junk), max_size=4)
    return FIELD[ft.kind]


@st.composite
def garbage(draw, to, frm):
    cls = draw(st.sampled_from(INBOUND))
    values = [draw(_field(f.type)) for f in cls.fields[2:]]
    return cls(to, frm, *values)


def _world():
    harness = Harness(node_id=NODE)
    owner = harness.add(Probe("owner"))
    stranger = harness.add(Probe("stranger"))
    physics = harness.add(PhysicsModule("physics"))
    for name in ("owner", "stranger"):
        harness.connect(name, "physics", bound=100_000)
        harness.connect("physics", name, bound=100_000)
    harness.tick()
    for m in scene_messages(physics.guid, owner.guid) + [capsule(physics.guid, owner.guid, HERO, 20, 20)]:
        owner.send(m)
    return harness, owner, stranger, physics


def _play(harness, owner, physics, ticks=8):
    for tick in range(ticks):
        owner.send(MoveIntents(physics.guid, owner.guid, WORLD, [[HERO, 3.0, 1.0 + tick, 0.0]]))
        owner.send(PhysicsStep(physics.guid, owner.guid, WORLD, tick))
        harness.tick()
    harness.tick()
    return [(m.tick, [r for r in m.poses if r[0] == HERO])
            for m in owner.received if type(m) is ResolvedPoses]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_garbage_from_a_stranger_never_fails_the_module_nor_moves_the_owners_body(data):
    clean = _world()
    attacked = _world()
    try:
        harness, owner, stranger, physics = attacked
        count = data.draw(st.integers(1, 12))
        batch = [data.draw(garbage(physics.guid, stranger.guid)) for _ in range(count)]
        batch = [m for m in batch if type(m) is not pm.PhysicsReset]  # a reset is a takeover, by design
        for m in batch:
            stranger.send(m)
        assert _play(*clean[:2], clean[3]) == _play(harness, owner, physics)
        assert 0 == physics.errors
    finally:
        clean[0].stop()
        attacked[0].stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_garbage_from_the_owner_is_refused_or_applied_but_never_fails_the_module(data):
    harness, owner, _stranger, physics = _world()
    try:
        for _ in range(data.draw(st.integers(1, 12))):
            owner.send(data.draw(garbage(physics.guid, owner.guid)))
            harness.tick()
        _play(harness, owner, physics, ticks=3)
        assert 0 == physics.errors
    finally:
        harness.stop()
