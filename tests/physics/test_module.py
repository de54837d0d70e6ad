"""PhysicsModule in an Engine: worlds by message, the owner's clock, refusals, the wire, the stacks."""

import logging
import math

import pytest
from physics_support import WORLD, capsule, scene_messages

from engine.codec import bach, decode_batch, encode_batch
from engine.guid import WellKnown, make, module_guid
from engine.modules.physics import PhysicsModule
from engine.physics import messages as pm
from engine.physics.messages import (
    MoveIntents,
    PhysicsRemoveBody,
    PhysicsReset,
    PhysicsSceneMissing,
    PhysicsStatics,
    PhysicsStep,
    PhysicsTerrain,
    ProjectileHits,
    ProjectilesExpired,
    ResolvedPoses,
    SpawnProjectile,
)
from engine.testing import Harness, Probe
from nodes.runner import build, free_tcp_port, prepare

NODE = 2001
HERO = make(NODE, 5, 1)
VILLAIN = make(NODE, 5, 2)


@pytest.fixture
def world():
    harness = Harness(node_id=NODE)
    owner = harness.add(Probe("owner"))
    intruder = harness.add(Probe("intruder"))
    physics = harness.add(PhysicsModule("physics"))
    for name in ("owner", "intruder"):
        harness.connect(name, "physics")
        harness.connect("physics", name)
    harness.tick()  # started
    yield harness, owner, intruder, physics
    harness.stop()


def _send(probe, physics, messages):
    for m in messages:
        probe.send(m)


def _of(probe, cls):
    return [m for m in probe.received if type(m) is cls]


def test_the_module_takes_its_well_known_guid():
    harness = Harness(node_id=NODE)
    physics = harness.add(PhysicsModule("physics"))
    assert module_guid(NODE, WellKnown.PHYSICS) == physics.guid


def test_a_world_by_message_steps_on_its_owners_clock_and_answers_with_tagged_poses(world):
    harness, owner, _intruder, physics = world
    p = physics.guid
    _send(owner, physics, scene_messages(p, owner.guid))
    _send(owner, physics, [capsule(p, owner.guid, HERO, 20, 20),
                           MoveIntents(p, owner.guid, WORLD, [[HERO, 3.0, 0.0, 0.0]]),
                           PhysicsStep(p, owner.guid, WORLD, 500)])
    harness.tick(2)
    assert 1 == physics.steps  # no PhysicsStep, no step: ticks alone do not move a world
    poses = _of(owner, ResolvedPoses)
    assert [(WORLD, 500)] == [(m.world, m.tick) for m in poses]
    (entity, x, y, z, on_ground), = poses[0].poses
    assert (HERO, 20.15, 20.0, True) == (entity, pytest.approx(x), y, on_ground)
    assert physics.scene(WORLD).pose(HERO)[2] == z
    status = physics.status()
    assert {"capsules": 1, "statics": 2, "terrain": True} .items() <= status["worlds"][str(WORLD)].items()


def test_two_steps_in_one_tick_each_apply_their_own_intents(world):
    harness, owner, _intruder, physics = world
    p = physics.guid
    _send(owner, physics, scene_messages(p, owner.guid) + [capsule(p, owner.guid, HERO, 20, 20)])
    _send(owner, physics, [MoveIntents(p, owner.guid, WORLD, [[HERO, 2.0, 0.0, 0.0]]),
                           PhysicsStep(p, owner.guid, WORLD, 1),
                           MoveIntents(p, owner.guid, WORLD, [[HERO, 0.0, 4.0, 0.0]]),
                           PhysicsStep(p, owner.guid, WORLD, 2)])
    harness.tick(2)
    rows = {m.tick: m.poses[0][1:3] for m in _of(owner, ResolvedPoses)}
    assert rows[1] == [pytest.approx(20.1), 20.0]
    assert rows[2] == [pytest.approx(20.1), pytest.approx(20.2)]


def test_hits_and_expiries_go_to_the_projectiles_sender(world):
    harness, owner, intruder, physics = world
    p = physics.guid
    _send(owner, physics, scene_messages(p, owner.guid) + [capsule(p, owner.guid, HERO, 20, 100)])
    _send(intruder, physics, [SpawnProjectile(p, intruder.guid, WORLD, make(NODE, 6, 1), 0, 20.0, 90.0,
                                              2.0, 0.0, 40.0, 1.0, 3.0),
                              SpawnProjectile(p, intruder.guid, WORLD, make(NODE, 6, 2), 0, 20.0, 90.0,
                                              2.0, 0.0, 0.0, 40.0, 0.2)])
    for tick in range(20):
        owner.send(PhysicsStep(p, owner.guid, WORLD, tick))
        harness.tick()
    hits = [row for m in _of(intruder, ProjectileHits) for row in m.hits]
    assert [[make(NODE, 6, 1), HERO]] == [h[:2] for h in hits]
    assert [[make(NODE, 6, 2)]] == [m.projectiles for m in _of(intruder, ProjectilesExpired)]
    assert [] == _of(owner, ProjectileHits)


def test_bad_intents_are_refused_counted_and_logged_and_the_world_unchanged(world, caplog):
    harness, owner, intruder, physics = world
    p = physics.guid
    _send(owner, physics, scene_messages(p, owner.guid) + [capsule(p, owner.guid, HERO, 20, 20)])
    harness.tick()
    before = physics.scene(WORLD).snapshot()
    with caplog.at_level(logging.WARNING):
        owner.send(MoveIntents(p, owner.guid, WORLD, [[HERO, math.nan, 0.0, 0.0], [HERO, 1e6, 0.0, 0.0],
                                                      [VILLAIN, 1.0, 0.0, 0.0]]))
        intruder.send(MoveIntents(p, intruder.guid, WORLD, [[HERO, 5.0, 0.0, 0.0]]))
        intruder.send(PhysicsRemoveBody(p, intruder.guid, WORLD, HERO))
        intruder.send(PhysicsStep(p, intruder.guid, WORLD, 9))
        intruder.send(MoveIntents(p, intruder.guid, 77, [[HERO, 5.0, 0.0, 0.0]]))
        harness.tick(2)
    assert {"non_finite": 1, "absurd": 1, "unknown_entity": 1, "not_owner": 3,
            "unknown_world": 1} == physics.status()["refused"]
    assert before == physics.scene(WORLD).snapshot()
    assert 0 == physics.steps
    logged = " ".join(r.getMessage() for r in caplog.records)
    for reason in ("non_finite", "absurd", "unknown_entity", "not_owner", "unknown_world"):
        assert reason in logged
    assert [77] == [m.world for m in _of(intruder, PhysicsSceneMissing)]


def test_a_malformed_scene_message_is_refused_with_a_log_line_and_the_module_ticks_on(world, caplog):
    harness, owner, intruder, physics = world
    p = physics.guid
    with caplog.at_level(logging.WARNING):
        owner.send(PhysicsTerrain(p, owner.guid, WORLD, 65, 65, 2.0, 0.0, 0.0, b"short"))
        owner.send(PhysicsStatics(p, owner.guid, WORLD, [[1, 2.0, "x"]], False))
        owner.send(PhysicsStatics(p, owner.guid, WORLD, "not a list", False))
        harness.tick(3)
    assert 3 == physics.bad_scene
    assert {} == physics.worlds  # refused whole: not even an empty world is left
    assert 3 == len([r for r in caplog.records if "refused Physics" in r.getMessage()])
    assert 0 == physics.errors
    _send(owner, physics, scene_messages(p, owner.guid) + [capsule(p, owner.guid, HERO, 20, 20),
                                                           PhysicsStep(p, owner.guid, WORLD, 1)])
    intruder.send(PhysicsTerrain(p, intruder.guid, WORLD, 2, 2, 1.0, 0.0, 0.0, bytes(16)))  # not its world
    harness.tick(2)
    assert 4 == physics.bad_scene
    assert physics.scene(WORLD).has_terrain and 1 == physics.steps
    assert [1] == [m.tick for m in _of(owner, ResolvedPoses)]


def test_a_step_for_a_world_it_does_not_have_asks_for_the_scene_and_a_reset_takes_over(world):
    harness, owner, intruder, physics = world
    p = physics.guid
    owner.send(PhysicsStep(p, owner.guid, WORLD, 41))
    harness.tick(2)
    assert [(WORLD, 41)] == [(m.world, m.tick) for m in _of(owner, PhysicsSceneMissing)]
    _send(owner, physics, scene_messages(p, owner.guid) + [capsule(p, owner.guid, HERO, 20, 20)])
    harness.tick()
    intruder.send(PhysicsReset(p, intruder.guid, WORLD))  # e.g. the region moved to another node
    intruder.send(PhysicsStep(p, intruder.guid, WORLD, 1))
    harness.tick(2)
    assert 0 == physics.scene(WORLD).body_count() and 1 == physics.steps


def test_every_physics_message_crosses_the_wire_unchanged():
    p, o = module_guid(11000, WellKnown.PHYSICS), module_guid(NODE, WellKnown.FIRST_FREE)
    messages = [*scene_messages(p, o), capsule(p, o, HERO, 20, 20, max_speed=4.0),
                pm.PhysicsRemoveStatics(p, o, WORLD, [1, 2]), PhysicsReset(p, o, WORLD),
                PhysicsRemoveBody(p, o, WORLD, HERO), MoveIntents(p, o, WORLD, [[HERO, 1.0, 2.0, 0.0]]),
                SpawnProjectile(p, o, WORLD, make(NODE, 6, 1), HERO, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 2.0),
                PhysicsStep(p, o, WORLD, 12), ResolvedPoses(o, p, WORLD, 12, [[HERO, 1.0, 2.0, 3.0, True]]),
                ProjectileHits(o, p, WORLD, 12, [[make(NODE, 6, 1), 0, 1.0, 2.0, 3.0]]),
                ProjectilesExpired(o, p, WORLD, 12, [make(NODE, 6, 2)]), PhysicsSceneMissing(o, p, WORLD, 3)]
    assert set(pm.__all__) - {"BODY_KINDS"} == {type(m).__name__ for m in messages}
    assert messages == decode_batch(encode_batch(messages), max_bytes=1 << 24)
    assert messages == [bach.loads(bach.dumps(m)) for m in messages]  # and snoop prints them
    assert all(150 <= type(m).type_id < 170 for m in messages)


@pytest.mark.parametrize(("role", "node", "stack", "in_process"), [
    ("gamelogic", 2001, None, True),
    ("gamelogic", 2002, "nodes/gamelogic-split.toml", False),
    ("physics", 11001, None, True),
])
def test_the_stacks_start_with_physics_where_it_belongs_and_nothing_refused(role, node, stack, in_process):
    overrides = {"net": {"port": 0}} if role == "gamelogic" else None
    spec = prepare(role, node, stack=stack, gld=f"tcp://127.0.0.1:{free_tcp_port()}", overrides=overrides,
                   metrics_port=0)
    engine = build(spec, node)
    engine.start()
    try:
        for _ in range(5):
            engine.tick_once()
        names = [m.name for m in engine.modules]
        assert in_process == ("physics" in names)
        if in_process:
            physics = engine.module("physics")
            assert module_guid(node, WellKnown.PHYSICS) == physics.guid
            # whatever the stack's game sends it (or nothing, on a physics node), nothing is refused
            assert (0, {}, 0) == (physics.bad_scene, physics.refused, physics.errors)
    finally:
        engine.stop()
