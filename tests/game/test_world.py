"""The World's rules with real ObjectSpaces and messages, no sockets (tests/game/region.py)."""

import itertools
import math
import random

import pytest
from region import PhysicalRegion, Region

from gamelogic.character import MAX_HEALTH, Character
from gamelogic.operations import (
    Death,
    Disappear,
    Hit,
    Info,
    Moves,
    Perceive,
    Set,
    Sight,
    Sound,
    Stats,
    unpack_moves,
)
from gamelogic.world import (
    AI_SILENCE,
    CATCH_UP,
    MID_EVERY_2,
    NEAR_EVERY_TICK,
    PERCEIVE_EVERY,
    RESPAWN_DELAY,
    UNWATCHED_SLOWER,
    VIEW_EVERY,
)


def sighted(region, body):
    return {m.entity["guid"] for m in region.take(Sight, to=body.conn)}


def test_a_player_sees_what_comes_into_view_and_is_told_when_it_leaves():
    r = Region()
    ann = r.player("Ann", (20.0, 20.0))
    pig = r.npc("pig", (30.0, 20.0))
    r.tick()
    seen = sighted(r, ann)
    assert pig.guid in seen
    assert r.world.by_wid["hut"] not in seen  # 113 m away: beyond the 60 m view
    r.world.teleport(pig.guid, 150.0, 20.0)
    r.tick(VIEW_EVERY)  # a view is recomputed every VIEW_EVERY ticks: the pig is gone by then
    assert [pig.guid] == [m.target for m in r.take(Disappear, to=ann.conn)]
    r.take()
    r.world.teleport(ann.guid, 25.0, 25.0)
    r.tick()
    (moves,) = r.take(Moves, to=ann.conn)
    assert (ann.guid, 25.0, 25.0) == unpack_moves(moves.updates)[-1][:3]  # its own moves come back to it


def test_far_bodies_move_less_often_and_their_last_position_always_arrives():
    """Moves by distance: near every tick, then every second, then every CATCH_UP-th; none lost."""
    r = Region()
    ann = r.player("Ann", (100.0, 40.0))
    near = r.npc("pig", (100.0 + NEAR_EVERY_TICK / 2, 40.0))
    mid = r.npc("pig", (100.0 - (NEAR_EVERY_TICK + MID_EVERY_2) / 2, 40.0))
    far = r.npc("pig", (100.0, 40.0 + MID_EVERY_2 + 10.0))
    r.tick(VIEW_EVERY)
    assert {near.guid, mid.guid, far.guid} <= ann.seen
    r.take()
    got = {near.guid: [], mid.guid: [], far.guid: []}
    for step in range(4 * CATCH_UP):
        for pig in (near, mid, far):
            r.world.teleport(pig.guid, pig.pos[0], pig.pos[1] + (0.1 if step % 2 else -0.1))
        r.tick()
        rows = [row for m in r.take(Moves, to=ann.conn) for row in unpack_moves(m.updates)]
        for guid, ticks in got.items():
            ticks += [step] * sum(1 for row in rows if row[0] == guid)
    assert got[near.guid] == list(range(4 * CATCH_UP))  # every tick
    assert len(got[mid.guid]) == 2 * CATCH_UP and {b - a for a, b in itertools.pairwise(got[mid.guid])} == {2}
    assert len(got[far.guid]) == 4 and {b - a for a, b in itertools.pairwise(got[far.guid])} == {CATCH_UP}
    # a far pig moved once, on a tick Ann does not get it, then stands still: its place still arrives
    r.world.teleport(far.guid, far.pos[0] + 3.0, far.pos[1])
    r.tick()
    r.world.teleport(far.guid, far.pos[0] + 3.0, far.pos[1])
    last = None
    for _ in range(CATCH_UP):
        r.tick()
        for m in r.take(Moves, to=ann.conn):
            last = next((row for row in unpack_moves(m.updates) if row[0] == far.guid), last)
    assert last is not None and last[1:3] == pytest.approx(far.pos[:2], abs=1e-3)  # float32 on the wire


def test_markers_are_seen_by_designers_only():
    r = Region()
    ann = r.player("Ann", (45.0, 45.0))
    dora = r.player("Dora", (45.0, 46.0), designer=True)
    r.tick()
    spawn = r.world.by_wid["spawn"]
    assert spawn not in sighted(r, ann)
    assert spawn in sighted(r, dora)


def test_a_shut_door_hides_the_room_until_someone_opens_it():
    r = Region()
    door = r.world.bodies[r.world.by_wid["hut.door"]]
    ann = r.player("Ann", (100.0, 93.0))  # outside, by the door in the south wall
    pig = r.npc("pig", (100.0, 101.0))  # inside the hut
    r.tick()
    seen = sighted(r, ann)
    assert door.guid in seen and pig.guid not in seen
    assert "ok: the door is open" == r.world.touch(ann, door)
    r.tick(VIEW_EVERY)  # a player's view is recomputed every VIEW_EVERY ticks
    assert [{"open": True}] == [m.props for m in r.take(Set, to=ann.conn)]
    assert pig.guid in sighted(r, ann)
    r.world.touch(ann, door)
    r.tick(VIEW_EVERY)
    assert pig.guid in [m.target for m in r.take(Disappear, to=ann.conn)]


def test_talk_is_heard_nearby_and_only_muffled_through_a_shut_door():
    r = Region()
    door = r.world.bodies[r.world.by_wid["hut.door"]]
    inside = r.player("In", (100.0, 103.0))
    near = r.player("Near", (100.0, 92.0))  # 11 m away, outside the shut door
    far = r.player("Far", (130.0, 130.0))
    r.tick()
    r.take()
    r.world.sound(inside, "talk", "hello?")
    heard = {m.to for m in r.take(Sound)}
    assert inside.conn in heard and near.conn not in heard and far.conn not in heard
    r.world.set_door(door, True)
    r.take()
    r.world.sound(inside, "talk", "hello!")
    heard = {m.to for m in r.take(Sound)}
    assert near.conn in heard and far.conn not in heard


def fight_to_the_death(r, attacker, target, level=100.0):
    for _ in range(200):
        if target.guid not in r.world.bodies:
            return
        r.world.melee(attacker, target, weapon_damage=12, reach=2.5, level=level, what="sword")
        r.tick()
    raise AssertionError("the target never died")


def test_blows_hurt_kill_and_leave_a_corpse_whose_loot_can_be_taken_and_sold():
    r = Region()
    ann = r.player("Ann", (20.0, 20.0))
    pig = r.npc("pig", (21.5, 20.0))
    trader = r.npc("trader", (22.5, 21.5))
    r.tick()
    r.take()
    fight_to_the_death(r, ann, pig)
    hits = r.take(Hit, to=ann.conn)
    assert hits and [h.health for h in hits] == sorted((h.health for h in hits), reverse=True)
    assert 0 == hits[-1].health
    (death,) = r.take(Death, to=ann.conn)
    assert pig.guid == death.target and ann.guid == death.killer
    corpse = r.world.bodies[death.corpse]
    assert "corpse" == corpse.cls and [["ham", 1]] == corpse.items
    assert "ok: you take 1 ham" == r.world.touch(ann, corpse)
    r.tick()  # the Give reaches the character's space
    character = ann.obj
    assert isinstance(character, Character)
    assert 1 == character.inventory.count("ham")
    assert "ok: the trader pays 3 coins for 1 ham" == r.world.touch(ann, trader)
    assert 3 == character.coins and 0 == character.inventory.count("ham")
    r.tick()
    assert 3 == r.take(Stats, to=ann.conn)[-1].state["coins"]


def test_out_of_reach_is_no_blow():
    r = Region()
    ann = r.player("Ann", (20.0, 20.0))
    pig = r.npc("pig", (30.0, 20.0))
    assert r.world.melee(ann, pig, weapon_damage=12, reach=2.5, level=50.0, what="sword") is None


def test_a_pig_led_to_the_trader_is_bought_and_paid_for():
    r = Region()
    ann = r.player("Ann", (20.0, 20.0))
    pig = r.npc("pig", (21.0, 20.0))
    trader = r.npc("trader", (22.0, 21.0))
    assert "ok: the pig follows you" == r.world.touch(ann, pig)
    r.world.on_act([[trader.guid, "buy", pig.guid]])
    assert pig.guid not in r.world.bodies
    r.tick()  # the Give reaches the character's space
    assert 10 == ann.obj.coins
    assert any("buys your pig" in m.text for m in r.take(Info, to=ann.conn))


def test_a_dead_player_rises_at_the_bind_point_with_full_health():
    r = Region()
    ann = r.player("Ann", (20.0, 20.0))
    wolf = r.npc("wolf", (21.0, 20.0))
    r.tick()
    for _ in range(400):
        r.world.melee(wolf, ann, weapon_damage=30, reach=2.0, level=100.0, what="bite")
        r.tick()
        if r.take(Death, to=ann.conn):
            break
    else:
        raise AssertionError("Ann never died")
    assert ann.health == 0 and ann.dead_until > r.world.now
    r.tick(int(RESPAWN_DELAY / 0.05) + 2)
    assert MAX_HEALTH == ann.health == ann.obj.health
    assert math.hypot(ann.pos[0] - 40.0, ann.pos[1] - 40.0) <= 2.0


def test_npcs_act_on_their_brains_and_stand_still_when_the_brains_go_quiet():
    r = Region(ai=12345)
    pig = r.npc("pig", (20.0, 20.0))
    r.tick(PERCEIVE_EVERY * UNWATCHED_SLOWER)  # no player sees it: it thinks at the slow rate
    perceived = [row[0] for m in r.take(Perceive) for row in m.npcs]
    assert [pig.guid] == perceived
    r.player("Ann", (25.0, 20.0))
    r.tick(VIEW_EVERY + PERCEIVE_EVERY * UNWATCHED_SLOWER)
    perceived = [row[0] for m in r.take(Perceive) for row in m.npcs]
    assert len(perceived) >= UNWATCHED_SLOWER  # watched, it thinks four times as often
    r.world.on_act([[pig.guid, "move", 1.0, 0.5], [999, "move", 1.0, 1.0], [pig.guid, "fly"], "junk"])
    assert (1.0, 0.5) == pig.intent
    r.tick(int(AI_SILENCE / 0.05) + 2)
    assert (0.0, 0.0) == pig.intent


def test_the_same_inputs_give_the_same_messages():
    def run():
        r = Region(seed=9)
        ann = r.player("Ann", (20.0, 20.0))
        wolf = r.npc("wolf", (21.0, 20.0))
        for _ in range(30):
            r.world.melee(ann, wolf, weapon_damage=12, reach=2.5, level=30.0, what="sword")
            r.tick()
        return [tuple(m) for m in r.out]

    assert run() == run()


def test_views_scanned_only_when_read_give_the_same_messages():
    """The World has the AOI scan only the views it reads each tick: the messages of a scan of every view."""

    def run(scan_all):
        r = Region(seed=4, ai=12345)
        world = r.world
        if scan_all:
            world._views_read = lambda: None  # the reference: SpatialWorld.step scans every observer
        rnd = random.Random(7)

        def anywhere():
            return (rnd.uniform(0.0, 200.0), rnd.uniform(0.0, 200.0))

        for _ in range(120):
            r.npc(rnd.choice(["pig", "pig", "pig", "wolf"]), anywhere())
        r.npc("trader", (100.0, 60.0))  # sees 40 m, beyond the NPC view radius
        players = [r.player(f"P{i}", anywhere(), designer=i == 0) for i in range(25)]
        for tick in range(150):
            poses = []
            for b in list(world.bodies.values()):
                if b.physical and rnd.random() < 0.8:
                    step = 6.0 if rnd.random() < 0.05 else 0.4  # now and then a jump
                    x = min(max(b.pos[0] + rnd.uniform(-step, step), 0.0), 200.0)
                    y = min(max(b.pos[1] + rnd.uniform(-step, step), 0.0), 200.0)
                    poses.append([b.guid, x, y, b.pos[2]])
            world.on_poses(poses)
            npcs = sorted(g for g, b in world.bodies.items() if b.kind == "npc")
            if rnd.random() < 0.3:
                world.remove(rnd.choice(npcs))
            if rnd.random() < 0.3:
                r.npc(rnd.choice(["pig", "wolf"]), anywhere())
            if rnd.random() < 0.05:
                world.remove(players.pop(rnd.randrange(1, len(players))).guid)
                players.append(r.player(f"Q{tick}", anywhere()))
            r.tick()
        off, ents = world.spatial.aoi.csr()
        guids = world.spatial.table.guids
        views = {int(guids[o]): set(guids[ents[off[o] : off[o + 1]]].tolist()) for o in range(len(off) - 1)}
        return r.out, views

    (every, all_views), (read, read_views) = run(True), run(False)
    assert {Sight, Disappear, Moves, Perceive} <= {type(m) for m in every}
    assert len(every) > 5000 and [tuple(m) for m in every] == [tuple(m) for m in read]
    assert all_views != read_views  # the views no one read were not scanned


@pytest.mark.parametrize(("cls", "walker", "edited"), [("trader", "pig", False), ("pig", "wolf", True)])
def test_an_npc_that_sees_past_its_view_radius_is_told_what_the_margin_keeps(cls, walker, edited):
    """The trader sees 40 m, beyond the NPC view radius (30 m, 5 m margin), and so may a designer's pig.

    Such an NPC's view follows every tick, as if every view were scanned every tick.
    """

    def told(scan_all):
        r = Region(ai=12345)
        if scan_all:
            r.world._views_read = lambda: None
        npc = r.npc(cls, (150.0, 40.0))
        other = r.npc(walker, (150.0, 76.0))  # 36 m away: beyond radius and margin
        r.player("Ann", (150.0, 30.0))  # the NPC is watched: it perceives every PERCEIVE_EVERY ticks
        if edited:
            npc.props["sight"] = 40.0  # what a designer's Set does
        r.tick(2 * VIEW_EVERY * PERCEIVE_EVERY)
        while r.tick_no % PERCEIVE_EVERY != (npc.guid + 1) % PERCEIVE_EVERY:
            r.tick()  # just after its perception
        r.world.teleport(other.guid, 150.0, 69.5)  # within 30 m...
        r.tick()
        r.world.teleport(other.guid, 150.0, 73.0)  # ...and back to 33 m before it perceives again
        r.take()
        r.tick(PERCEIVE_EVERY - 1)
        (seen,) = [row[8] for m in r.take(Perceive) for row in m.npcs if row[0] == npc.guid]
        return other.guid in [row[0] for row in seen]

    assert told(scan_all=True) and told(scan_all=False)


# -- with physics ------------------------------------------------------------------------------------


def test_walking_is_resolved_by_physics_and_walls_stop_it():
    r = PhysicalRegion()
    ann = r.player("Ann", (100.0, 80.0))
    r.tick(2)
    r.world.move(ann.guid, 0.0, 6.0)  # north, into the hut's south wall at y = 95 (the door is shut)
    r.tick(80)
    assert 93.0 < ann.pos[1] < 95.0
    r.world.move(ann.guid, -6.0, 0.0)
    r.tick(20)
    assert ann.pos[0] < 95.5  # free to walk along the wall


def test_an_arrow_at_a_pig_hits_it_and_one_at_a_pig_behind_a_wall_misses():
    r = PhysicalRegion()
    ann = r.player("Ann", (60.0, 60.0))
    pig = r.npc("pig", (75.0, 60.0))
    r.tick(5)
    assert r.world.shoot(ann, pig, weapon_damage=10, reach=40.0, level=100.0)
    for _ in range(40):
        r.tick()
        if pig.health < pig.max_health:
            break
    assert pig.health < pig.max_health
    hits = r.take(Hit, to=ann.conn)
    assert hits and "arrow" == hits[0].what


def test_players_views_are_recomputed_a_share_each_tick_not_all_at_once():
    """Every character is object 1 of its own space: spreading the views by Guid put them all
    on one tick, which then cost four ticks' work (and set the tick's p99)."""
    r = Region()
    players = [r.player(f"P{i}", (20.0 + i * 0.5, 20.0)) for i in range(2 * VIEW_EVERY)]
    r.tick(VIEW_EVERY)
    r.take()
    pig = r.npc("pig", (30.0, 22.0))
    told = []
    for _ in range(VIEW_EVERY):
        r.tick()
        told.append(sum(1 for p in players for m in r.take(Sight, to=p.conn) if m.frm == pig.guid))
    assert [2] * VIEW_EVERY == told
