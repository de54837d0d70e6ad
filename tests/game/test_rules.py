"""The demo game's rules that need no world: classes, world files, the stage, skills, brains."""

import random

import numpy as np
import pytest

from gamelogic import skills
from gamelogic.brains import NpcView, pig, trader, wolf
from gamelogic.classes import ClassTree, ClassTreeError
from gamelogic.operations import Attack, Move, Operation, Perception, Sight
from gamelogic.stage import OUTDOORS, Stage
from gamelogic.worldfile import DEMO_WORLD, dumps_world, load_world, loads_world, validate

TREE = ClassTree.load()


# -- the class tree ----------------------------------------------------------------------------


def test_children_override_what_they_inherit():
    assert ["pig", "animal", "creature", "entity"] == TREE.ancestry("pig")
    assert 30 == TREE.defaults("pig")["health"]
    assert 100 == TREE.defaults("wolf")["health"] + 40
    assert TREE.defaults("pig")["static"] is False  # from creature
    assert "creature" == TREE.defined_by("pig", "static")
    assert TREE.is_a("sword", "item") and not TREE.is_a("sword", "creature")


def test_overrides_are_type_checked():
    assert [] == TREE.check_properties("pig", {"health": 5, "speed": 2})  # an int stands for a float
    problems = TREE.check_properties("pig", {"health": "lots", "wings": 2, "colour": [1, 0]})
    assert 3 == len(problems)
    assert any("pig.health must be a whole number" in p for p in problems)
    assert any("no property 'wings'" in p for p in problems)
    assert ["unknown class 'dragon'"] == TREE.check_properties("dragon", {})


def test_a_bad_class_file_says_what_is_wrong():
    with pytest.raises(ClassTreeError, match="unknown parent 'ghost'"):
        ClassTree({"a": {"parents": ["ghost"]}})
    with pytest.raises(ClassTreeError, match="cycle"):
        ClassTree({"a": {"parents": ["b"]}, "b": {"parents": ["a"]}})
    with pytest.raises(ClassTreeError, match="health must be a whole number"):
        ClassTree({"a": {"health": 1}, "b": {"parents": ["a"], "health": "x"}})


def test_operations_carry_atlas_parents_and_numbers():
    assert ("perception",) == Sight.parents and ("action",) == Move.parents
    assert issubclass(Sight, Perception) and issubclass(Attack, Operation)
    answer = Sight(1, 2, refno=Attack(2, 1, serialno=7, target=5).serialno, entity={"guid": 5})
    assert 7 == answer.refno


# -- world files ----------------------------------------------------------------------------------


def test_the_demo_world_is_valid_and_saves_stably():
    world, problems = load_world(DEMO_WORLD)
    assert [] == problems
    assert [] == validate(world, TREE)
    text = dumps_world(world)
    again, problems = loads_world(text)
    assert [] == problems
    assert text == dumps_world(again)
    ids = [line for line in text.splitlines() if line.startswith("id = ")]
    assert ids == sorted(ids)


BROKEN = """[world]
name = "Broken"
size = [100.0, 100.0]

[[entity]]
id = "ok.pig"
class = "pig"
pos = [10.0, 10.0]

[[entity]]
id = "bad.toml"
class = "pig
pos = [10.0, 10.0]

[[entity]]
id = "far.pig"
class = "pig"
pos = [500.0, 10.0]

[[entity]]
id = "ghost"
class = "ghost"
pos = [5.0, 5.0]

[[entity]]
id = "hut"
class = "building"
pos = [50.0, 50.0]
size = [10.0, 10.0]

[[entity]]
id = "door.in.air"
class = "door"
pos = [60.0, 70.0]

[[entity]]
id = "rock.in.hut"
class = "rock"
pos = [50.0, 50.0]

[[entity]]
id = "typo"
class = "pig"
pos = [20.0, 20.0]
health = "many"
"""


def test_a_broken_world_file_opens_what_it_can_and_names_every_line():
    world, problems = loads_world(BROKEN)
    assert {"ok.pig", "far.pig", "ghost", "hut", "door.in.air", "rock.in.hut", "typo"} == {
        e.id for e in world.entities
    }
    assert [12] == [p.line for p in problems]  # the line with the unterminated string
    checked = {(p.line, p.entity) for p in validate(world, TREE)}
    assert {(15, "far.pig"), (20, "ghost"), (31, "door.in.air"), (36, "rock.in.hut"), (41, "typo")} == checked


# -- the stage ----------------------------------------------------------------------------------------


def _demo_stage():
    world, _ = load_world(DEMO_WORLD)
    return Stage(world.entities, TREE)


def test_rooms_and_doors_form_a_graph():
    stage = _demo_stage()
    assert "village.inn/0" == stage.container_at(245.0, 250.0)
    assert "village.inn/1" == stage.container_at(255.0, 250.0)
    assert OUTDOORS == stage.container_at(240.0, 230.0)
    assert ("outdoors", "village.inn/0") == stage.doors["village.inn.door"].sides


def test_a_shut_door_blocks_sight_and_muffles_sound():
    stage = _demo_stage()
    inside, outside = (245.0, 250.0), (246.0, 240.0)
    assert stage.can_see(inside, outside, {"village.inn.door"})
    assert not stage.can_see(inside, outside, set())
    assert 20.0 == stage.hearing_range(inside, outside, 20.0, {"village.inn.door"})
    assert pytest.approx(20.0 / 3) == stage.hearing_range(inside, outside, 20.0, set())
    assert 0.0 == stage.hearing_range((255.0, 250.0), outside, 20.0, set())  # no door from room 1 outside


def test_containers_at_agrees_with_container_at():
    stage = _demo_stage()
    rng = random.Random(5)
    points = np.array([[rng.uniform(235.0, 290.0), rng.uniform(240.0, 260.0)] for _ in range(500)])
    assert [stage.container_at(x, y) for x, y in points] == stage.containers_at(points)


def test_walls_leave_gaps_for_doors():
    stage = _demo_stage()
    south = [w for w in stage.walls if w.building == "village.inn" and w.a[1] == w.b[1] == 245.0]
    spans = sorted((w.a[0], w.b[0]) for w in south)
    assert [(242.0, 245.2), (246.8, 258.0)] == [(round(a, 3), round(b, 3)) for a, b in spans]


# -- skills ----------------------------------------------------------------------------------------


def test_using_a_skill_raises_it_with_diminishing_returns_and_a_cap():
    gains, level = [], 0.0
    for _ in range(2000):
        new = skills.raised(level, True)
        gains.append(new - level)
        level = new
    assert gains[0] > gains[100] > gains[1000] >= 0
    assert level <= skills.SKILL_CAP
    assert skills.raised(50.0, False) - 50.0 < skills.raised(50.0, True) - 50.0
    assert skills.hit_chance(0) < skills.hit_chance(50) < skills.hit_chance(100) <= 0.95
    rng = random.Random(1)
    assert sum(skills.damage(10, 0, rng) for _ in range(200)) < sum(
        skills.damage(10, 100, rng) for _ in range(200)
    )
    assert skills.aim_error(100) < skills.aim_error(0)


# -- brains ---------------------------------------------------------------------------------------


def _view(cls, seen=(), hurt_by=0, leader=0, at=(0.0, 0.0)):
    return NpcView.from_row([1, cls, at[0], at[1], 30, hurt_by, leader, [0.0, 0.0], [list(s) for s in seen]])


def test_stamina_mana_and_health_grow_back_to_their_caps_and_a_full_character_stays_clean():
    from gamelogic.character import MAX_HEALTH, MAX_MANA, MAX_STAMINA, Character

    c = Character("Ada", [0.0, 0.0, 0.0], 60, stamina=10.0, mana=0.0)
    c.last_hurt = 5.0
    c.regenerate(1.0, now=6.0)  # hurt a second ago: no health yet
    assert (18.0, 2.0, 60) == (c.stamina, c.mana, c.health) and c.dirty
    for t in range(7, 40):
        c.regenerate(1.0, now=float(t))
    assert (MAX_STAMINA, MAX_MANA) == (c.stamina, c.mana)
    assert 60 + (39 - 15) == c.health  # a point a second from 10 s after the blow (t = 16 .. 39)
    for t in range(40, 60):
        c.regenerate(1.0, now=float(t))
    assert MAX_HEALTH == c.health
    c.dirty = False
    c.regenerate(1.0, now=60.0)
    assert not c.dirty and (MAX_STAMINA, MAX_MANA, MAX_HEALTH) == (c.stamina, c.mana, c.health)


def test_a_pig_flees_a_wolf_and_follows_its_leader():
    rng = random.Random(2)
    (move,) = pig(_view("pig", [(9, "wolf", 3.0, 0.0, 60, 0)]), {}, rng, 0.0)
    assert "move" == move[1] and move[2] < 0  # away from the wolf at +x
    (move,) = pig(_view("pig", [(7, "player", 0.0, 6.0, 100, 0)], leader=7), {}, rng, 0.0)
    assert move[3] > 0  # towards the leader at +y


def test_a_wolf_hunts_what_it_sees_and_bites_in_reach():
    rng = random.Random(3)
    (move,) = wolf(_view("wolf", [(5, "pig", 10.0, 0.0, 30, 0)]), {}, rng, 0.0)
    assert move[2] > 0
    actions = wolf(_view("wolf", [(5, "pig", 1.0, 0.0, 30, 0)]), {}, rng, 0.0)
    assert [1, "attack", 5] in actions


def test_the_trader_buys_only_pigs_that_are_led_to_him():
    rng = random.Random(4)
    assert [[1, "buy", 5]] == trader(
        _view("trader", [(5, "pig", 2.0, 0.0, 30, 7), (6, "pig", 1.0, 1.0, 30, 0)]), {}, rng, 0.0
    )
