"""PhysicsScene on real pybullet: terrain, walls, slopes, speed, projectiles, bad input, determinism."""

import math

import numpy as np
import pytest

from engine.physics import BodyRefused, PhysicsScene, SceneConfig, SceneError

OWNER = 9
OTHER = 10
CELL = 2.0
N = 65  # grid points per side: a 128 m square


@pytest.fixture
def scenes():
    made = []

    def make(config=None):
        scene = PhysicsScene(config)
        made.append(scene)
        return scene

    yield make
    for scene in made:
        scene.close()


def _terrain(scene, height_fn):
    xs = np.arange(N) * CELL
    x, y = np.meshgrid(xs, xs)  # rows are y, columns x: x fastest
    heights = height_fn(x, y).astype(np.float32)
    scene.set_terrain(N, N, CELL, (0.0, 0.0), heights.tobytes())
    return heights


def _flat(scene, z=0.0):
    return _terrain(scene, lambda x, y: np.full_like(x, z))


def _capsule(scene, entity, x, y, z=0.0, owner=OWNER, **kw):
    scene.add_body(entity, owner, "capsule", (x, y, z), 0.4, 1.8, **kw)


def _walk(scene, ticks, intents, sender=OWNER):
    assert [] == scene.set_intents(intents, sender)
    results = [scene.step() for _ in range(ticks)]
    return results


def test_an_entity_stands_on_the_terrain_height_under_it_and_follows_it(scenes):
    scene = scenes()
    _terrain(scene, lambda x, y: 3.0 + 0.1 * x + 0.05 * y)  # a plane: exact whatever the triangles
    _capsule(scene, 1, 40.0, 30.0, z=0.0)  # placed below the ground: it is put on it
    scene.step()
    x, y, z, on_ground = scene.pose(1)
    assert (40.0, 30.0, True) == (x, y, on_ground)
    assert 3.0 + 4.0 + 1.5 == pytest.approx(z, abs=1e-4)
    _walk(scene, 20, [[1, 2.0, 0.0, 0.0]])  # 2 m east, up a gentle slope
    x, y, z, on_ground = scene.pose(1)
    assert 42.0 == pytest.approx(x, abs=1e-9)
    assert 3.0 + 4.2 + 1.5 == pytest.approx(z, abs=1e-4)
    assert on_ground


def test_a_wall_stops_movement_and_a_parallel_walk_slides_past(scenes):
    scene = scenes()
    _flat(scene)
    scene.set_boxes([[1, 30.0, 50.0, 2.0, 0.5, 10.0, 2.0, 0.0]])  # a wall, faces at x = 29.5 and 30.5
    _capsule(scene, 1, 20.0, 50.0)  # walks straight at it
    _capsule(scene, 2, 20.0, 45.0)  # walks at it diagonally: slides along it, then past its end
    _capsule(scene, 3, 20.0, 30.0)  # walks east below the wall's end: nothing in the way
    _walk(scene, 100, [[1, 5.0, 0.0, 0.0], [2, 4.0, 4.0, 0.0], [3, 5.0, 0.0, 0.0]])
    x1, y1, _, _ = scene.pose(1)
    assert 29.5 - 0.4 - scene.config.skin == pytest.approx(x1, abs=1e-6)
    assert 50.0 == y1
    x2, y2, _, _ = scene.pose(2)
    assert y2 > 60.4  # it got round the end of the wall...
    assert x2 > 30.5  # ...and on to the other side
    assert 45.0 == pytest.approx(scene.pose(3)[0], abs=1e-9)


def _distance_to_box(x, y, cx, cy, hx, hy, yaw):
    """Distance from (x, y) to a yaw-rotated rectangle (0 inside)."""
    dx, dy = x - cx, y - cy
    lx = dx * math.cos(yaw) + dy * math.sin(yaw)
    ly = -dx * math.sin(yaw) + dy * math.cos(yaw)
    return math.hypot(max(abs(lx) - hx, 0.0), max(abs(ly) - hy, 0.0))


def test_a_rotated_wall_stops_movement_head_on_and_is_never_entered_when_sliding(scenes):
    scene = scenes()
    _flat(scene)
    yaw = math.pi / 4
    wall = (30.0, 50.0, 0.5, 10.0, yaw)
    scene.set_boxes([[7, 30.0, 50.0, 2.0, 0.5, 10.0, 2.0, yaw]])
    normal = (math.cos(yaw), math.sin(yaw))
    _capsule(scene, 1, 30.0 - 10 * normal[0], 50.0 - 10 * normal[1])  # head on, along the normal
    _capsule(scene, 2, 20.0, 50.0)  # walks east: meets the wall at 45 degrees and slides
    for _ in range(100):
        _walk(scene, 1, [[1, 5 * normal[0], 5 * normal[1], 0.0], [2, 5.0, 0.0, 0.0]])
        x, y, _, _ = scene.pose(2)
        assert _distance_to_box(x, y, *wall) >= 0.4
    x, y, _, _ = scene.pose(1)
    along = (x - 30.0) * normal[0] + (y - 50.0) * normal[1]
    assert -(0.5 + 0.4 + scene.config.skin) == pytest.approx(along, abs=1e-6)
    x2, y2, _, _ = scene.pose(2)
    assert y2 < 50.0 - 7.0 and x2 > 37.0  # slid down the wall to its end, then on east


def test_a_slope_steeper_than_the_limit_is_refused(scenes):
    scene = scenes()
    # flat up to x = 80, then a 60 degree ramp
    _terrain(scene, lambda x, y: np.where(x > 80.0, (x - 80.0) * math.tan(math.radians(60)), 0.0))
    _capsule(scene, 1, 70.0, 20.0, max_slope=math.radians(45))
    _capsule(scene, 2, 70.0, 40.0, max_slope=math.radians(70))  # a goat: this slope is fine for it
    _walk(scene, 60, [[1, 5.0, 0.0, 0.0], [2, 5.0, 0.0, 0.0]])
    x1, _, z1, ground1 = scene.pose(1)
    assert x1 == pytest.approx(80.0, abs=0.3) and z1 < 0.35 and ground1
    x2, _, z2, _ = scene.pose(2)
    assert 85.0 == pytest.approx(x2, abs=1e-9)  # all 15 m of its walk, 5 of them up the ramp
    assert 5.0 * math.tan(math.radians(60)) == pytest.approx(z2, abs=1e-3)


def test_speed_is_capped_at_max_speed(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 10.0, 10.0, max_speed=5.0)
    _capsule(scene, 2, 10.0, 20.0, max_speed=5.0)
    _walk(scene, 20, [[1, 100.0, 0.0, 0.0], [2, 3.0, 4.0, 0.0]])  # 100 m/s asked; 5 m/s exactly
    assert 15.0 == pytest.approx(scene.pose(1)[0], abs=1e-9)
    x, y, _, _ = scene.pose(2)
    assert (13.0, 24.0) == (pytest.approx(x, abs=1e-9), pytest.approx(y, abs=1e-9))


def test_an_arrow_fired_at_a_target_hits_it_and_one_fired_past_it_misses(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 10, 50.0, 80.0)
    scene.step()
    scene.spawn_projectile(100, OWNER, 0, (50.0, 70.0, 1.0), (0.0, 40.0, 1.0), 3.0)
    scene.spawn_projectile(101, OWNER, 0, (52.0, 70.0, 1.0), (0.0, 40.0, 1.0), 3.0)
    hits = []
    for _ in range(40):
        hits += scene.step().hits.get(OWNER, [])
    assert [100, 101] == [h[0] for h in hits]
    at_target, past = hits
    assert 10 == at_target[1]
    assert 79.6 == pytest.approx(at_target[3], abs=0.05)  # the capsule's near side
    assert 0 == past[1]  # it flew on and came down on the terrain
    assert past[3] > 85.0 and past[4] == pytest.approx(0.0, abs=1e-6)
    assert 0 == scene.projectile_count()


def test_an_arrow_does_not_hit_its_shooter_and_expires_after_its_lifetime(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 50.0, 50.0)  # the archer
    _capsule(scene, 2, 50.0, 60.0)
    scene.step()
    scene.spawn_projectile(200, OWNER, 1, (50.0, 50.0, 1.2), (0.0, 50.0, 0.0), 3.0)  # from inside
    scene.spawn_projectile(201, OWNER, 1, (50.0, 50.0, 1.2), (0.0, 0.0, 30.0), 0.5)  # straight up
    hits, expired = [], []
    for _ in range(20):
        result = scene.step()
        hits += result.hits.get(OWNER, [])
        expired += result.expired.get(OWNER, [])
    assert [[200, 2]] == [h[:2] for h in hits]
    assert [201] == expired


def test_a_moved_target_is_hit_where_it_is_now(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 30.0, 80.0)
    _walk(scene, 20, [[1, 5.0, 0.0, 0.0]])
    _walk(scene, 1, [[1, 0.0, 0.0, 0.0]])  # stopped at x = 35
    scene.spawn_projectile(300, OWNER, 0, (35.0, 70.0, 1.0), (0.0, 40.0, 1.0), 3.0)
    hits = []
    for _ in range(20):
        hits += scene.step().hits.get(OWNER, [])
    assert [[300, 1]] == [h[:2] for h in hits]


def test_bad_intents_are_refused_and_leave_the_simulation_unchanged(scenes):
    def world():
        scene = scenes()
        _terrain(scene, lambda x, y: 0.05 * x)
        _capsule(scene, 1, 20.0, 20.0)
        _capsule(scene, 2, 30.0, 20.0, owner=OTHER)
        scene.add_body(3, OWNER, "loose", (40.0, 40.0, 5.0), 0.3, 0.0)
        return scene

    clean, attacked = world(), world()
    good = [[1, 2.0, 1.0, 0.0]]
    assert [] == clean.set_intents(good, OWNER)
    bad = [[1, math.nan, 0.0, 0.0], [1, 0.0, math.inf, 0.0], [1, 1e9, 0.0, 0.0], [99, 1.0, 0.0, 0.0],
           [2, 1.0, 0.0, 0.0], [3, 1.0, 0.0, 0.0], ["1", 1.0, 0.0, 0.0], [1, 1.0, 0.0], "junk",
           [1, True, 0.0, 0.0]]
    refused = attacked.set_intents(good + bad, OWNER)
    assert ["non_finite", "non_finite", "absurd", "unknown_entity", "not_owner", "not_a_capsule",
            "malformed", "malformed", "malformed", "malformed"] == [reason for reason, _ in refused]
    for _ in range(30):
        assert clean.step() == attacked.step()
    assert clean.snapshot() == attacked.snapshot()


def test_bad_bodies_are_refused_with_a_reason_and_nothing_added(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 20.0, 20.0)
    cases = [
        (dict(entity=1, owner=OTHER, kind="capsule", pos=(1.0, 1.0, 0.0), radius=0.4, height=1.8),
         "not_owner"),
        (dict(entity=2, owner=OWNER, kind="boat", pos=(1.0, 1.0, 0.0), radius=0.4, height=1.8), "malformed"),
        (dict(entity=2, owner=OWNER, kind="capsule", pos=(math.nan, 1.0, 0.0), radius=0.4, height=1.8),
         "non_finite"),
        (dict(entity=2, owner=OWNER, kind="capsule", pos=(1.0, 1.0, 0.0), radius=-1.0, height=1.8),
         "malformed"),
        (dict(entity=2, owner=OWNER, kind="loose", pos=(1.0, 1.0, 0.0), radius=0.4, height=1.8,
              vel=(1e7, 0.0, 0.0)), "absurd"),
    ]
    before = scene.snapshot()
    for kwargs, reason in cases:
        with pytest.raises(BodyRefused) as caught:
            scene.add_body(**kwargs)
        assert reason == caught.value.reason
    with pytest.raises(BodyRefused, match="another sender"):
        scene.remove_body(1, OTHER)
    assert before == scene.snapshot()


def test_a_malformed_scene_is_refused_and_the_old_scene_kept(scenes):
    scene = scenes()
    _flat(scene, 2.0)
    _capsule(scene, 1, 20.0, 20.0)
    scene.set_boxes([[1, 30.0, 20.0, 2.0, 0.5, 5.0, 2.0, 0.0]])
    with pytest.raises(SceneError, match="bytes"):
        scene.set_terrain(N, N, CELL, (0.0, 0.0), b"\x00" * 12)
    with pytest.raises(SceneError, match="finite"):
        scene.set_terrain(2, 2, CELL, (0.0, 0.0), np.array([0, 0, np.nan, 0], np.float32).tobytes())
    with pytest.raises(SceneError, match="finite"):
        scene.set_boxes([[2, 10.0, 10.0, 1.0, 1.0, 1.0, 1.0, 0.0], [3, math.inf, 0, 0, 1, 1, 1, 0]])
    with pytest.raises(SceneError, match="half extents"):
        scene.set_boxes([[4, 10.0, 10.0, 1.0, 0.0, 1.0, 1.0, 0.0]])
    assert 1 == scene.static_count()  # box 2 of the refused message was not added either
    _walk(scene, 40, [[1, 5.0, 0.0, 0.0]])
    x, _, z, _ = scene.pose(1)
    assert 29.5 - 0.4 - scene.config.skin == pytest.approx(x, abs=1e-6)
    assert 2.0 == pytest.approx(z, abs=1e-4)


def test_only_changed_poses_are_exported(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 10.0, 10.0)
    _capsule(scene, 2, 20.0, 10.0)
    first = scene.step()
    assert {1, 2} == {row[0] for row in first.poses[OWNER]}  # a new body's pose is always sent
    assert {} == scene.step().poses  # nobody moved
    assert [] == scene.set_intents([[2, 1.0, 0.0, 0.0]], OWNER)
    second = scene.step()
    assert [[2, 20.05, 10.0]] == [[e, pytest.approx(x), y] for e, x, y, _z, _g in second.poses[OWNER]]


def test_poses_go_to_each_body_owner(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 10.0, 10.0)
    _capsule(scene, 2, 20.0, 10.0, owner=OTHER)
    result = scene.step()
    assert {OWNER: [1], OTHER: [2]} == {k: [r[0] for r in v] for k, v in result.poses.items()}


def test_walking_off_a_ledge_falls_and_lands(scenes):
    scene = scenes()
    _flat(scene)
    scene.set_boxes([[1, 20.0, 20.0, 1.0, 5.0, 5.0, 1.0, 0.0]])  # a 2 m high platform
    _capsule(scene, 1, 20.0, 20.0, z=2.5)
    scene.step()
    assert (2.0, True) == (pytest.approx(scene.pose(1)[2], abs=1e-6), scene.pose(1)[3])
    airborne = []
    for _ in range(40):
        _walk(scene, 1, [[1, 4.0, 0.0, 0.0]])
        airborne.append(not scene.pose(1)[3])
    x, _, z, on_ground = scene.pose(1)
    assert any(airborne) and on_ground
    assert x > 26.0 and 0.0 == pytest.approx(z, abs=1e-4)


def test_a_jump_goes_up_and_comes_back_down(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 20.0, 20.0)
    scene.step()
    heights = [r.poses[OWNER][0][3] for r in _walk(scene, 30, [[1, 0.0, 0.0, 5.0]]) if r.poses]
    assert 5.0 ** 2 / (2 * 9.81) == pytest.approx(max(heights), rel=0.15)
    _, _, z, on_ground = scene.pose(1)
    assert on_ground and 0.0 == pytest.approx(z, abs=1e-9)  # landed, and did not jump again


def test_a_loose_body_falls_and_rests_on_the_ground(scenes):
    scene = scenes()
    _flat(scene, 1.0)
    scene.add_body(5, OWNER, "loose", (30.0, 30.0, 6.0), 0.5, 0.0, mass=2.0)
    rows = [row for _ in range(60) for row in scene.step().poses.get(OWNER, [])]
    assert rows and rows[0][3] < 6.0
    _, _, z, on_ground = rows[-1][1:5] and rows[-1][1:]
    assert on_ground and 1.5 == pytest.approx(z, abs=0.02)


def test_the_same_inputs_give_identical_results_twice(scenes):
    def run():
        scene = scenes(SceneConfig(substeps=4))
        rng = np.random.default_rng(7)
        _terrain(scene, lambda x, y: 2.0 * np.sin(x / 15.0) * np.cos(y / 11.0))
        scene.set_boxes([[i, float(rng.uniform(10, 118)), float(rng.uniform(10, 118)), 1.0, 2.0, 0.5, 2.0,
                          float(rng.uniform(0, 3))] for i in range(15)])
        for e in range(1, 81):
            _capsule(scene, e, float(rng.uniform(5, 123)), float(rng.uniform(5, 123)))
        for e in range(81, 86):
            scene.add_body(e, OWNER, "loose", (float(rng.uniform(20, 100)), 50.0, 6.0), 0.4, 0.0)
        trace = []
        for tick in range(60):
            if tick % 10 == 0:
                angles = rng.uniform(0, 2 * math.pi, 80)
                scene.set_intents([[e + 1, 5 * math.cos(a), 5 * math.sin(a), 0.0]
                                   for e, a in enumerate(angles)], OWNER)
            if tick % 3 == 0:
                scene.spawn_projectile(1000 + tick, OWNER, 1, (64.0, 64.0, 4.0),
                                       (float(rng.uniform(-30, 30)), float(rng.uniform(-30, 30)), 2.0), 2.0)
            trace.append(scene.step())
        return trace, scene.snapshot()

    first, second = run(), run()
    assert first == second
    assert any(r.hits for r in first[0])  # the run exercised projectiles


def test_adding_a_capsule_again_teleports_it_and_stops_it(scenes):
    scene = scenes()
    _flat(scene)
    _capsule(scene, 1, 10.0, 10.0)
    _walk(scene, 5, [[1, 4.0, 0.0, 0.0]])
    _capsule(scene, 1, 50.0, 60.0, z=3.0)  # placed again, above the ground
    result = scene.step()
    assert [[1, 50.0, 60.0, 0.0, True]] == [[e, x, y, pytest.approx(z, abs=1e-9), g]
                                            for e, x, y, z, g in result.poses[OWNER]]
    assert {} == scene.step().poses  # its old intent went with it
    assert 1 == scene.body_count()


def test_a_removed_wall_no_longer_stops_anyone(scenes):
    scene = scenes()
    _flat(scene)
    scene.set_boxes([[1, 30.0, 50.0, 2.0, 0.5, 10.0, 2.0, 0.0], [2, 60.0, 50.0, 2.0, 0.5, 10.0, 2.0, 0.0]])
    _capsule(scene, 1, 20.0, 50.0)
    scene.remove_boxes([1, 99])  # an unknown id is no error
    _walk(scene, 200, [[1, 5.0, 0.0, 0.0]])
    assert 59.5 - 0.4 - scene.config.skin == pytest.approx(scene.pose(1)[0], abs=1e-6)  # the second wall
    assert 1 == scene.static_count()


def test_an_arrow_hits_a_loose_body_in_its_way(scenes):
    scene = scenes()
    _flat(scene)
    scene.add_body(5, OTHER, "loose", (50.0, 60.0, 0.5), 0.5, 0.0)  # a barrel, someone else's
    for _ in range(20):
        scene.step()  # it settles on the ground
    scene.spawn_projectile(400, OWNER, 0, (50.0, 50.0, 0.6), (0.0, 40.0, 0.0), 3.0)
    hits = [h for _ in range(10) for h in scene.step().hits.get(OWNER, [])]
    assert [[400, 5]] == [h[:2] for h in hits]
    assert 59.5 == pytest.approx(hits[0][3], abs=0.05)
