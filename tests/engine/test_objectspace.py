import pytest
from sample_messages import TTalk

from engine.dispatch import handles
from engine.guid import make, node_of, space_of
from engine.modules.objectspace_host import ObjectSpaceHost
from engine.objectspace import CrossSpaceLookupError, GameObject
from engine.testing import Harness, Probe


class Character(GameObject):
    def __init__(self):
        super().__init__()
        self.heard = []
        self.inventory = None

    @handles(TTalk)
    def on_talk(self, msg):
        self.heard.append((self.space.manager.tick, msg.text))
        if msg.text.startswith("echo "):
            self.send(TTalk(msg.frm, self.guid, msg.text[5:]))


class Inventory(GameObject):
    def __init__(self):
        super().__init__()
        self.items = []

    def put(self, item):
        self.items.append(item)
        return len(self.items)


def _host():
    h = Harness(node_id=11)
    probe = h.add(Probe("probe"))
    host = h.add(ObjectSpaceHost("logic"))
    h.connect_all()
    return h, probe, host


def test_objects_in_one_space_call_each_other_directly():
    h, _, host = _host()
    space = host.spaces.create_space()
    hero, bag = space.add(Character()), space.add(Inventory())
    h.tick()
    hero.inventory = space.lookup(bag.guid)
    assert 1 == hero.inventory.put("sword")


def test_looking_up_an_object_of_another_space_raises():
    h, _, host = _host()
    one, two = host.spaces.create_space(), host.spaces.create_space()
    a, b = one.add(Character()), two.add(Character())
    h.tick()
    assert space_of(a.guid) != space_of(b.guid)
    with pytest.raises(CrossSpaceLookupError, match="only by message"):
        one.lookup(b.guid)


def test_messages_between_spaces_arrive_at_the_start_of_the_next_tick():
    h, _, host = _host()
    one, two = host.spaces.create_space(), host.spaces.create_space()
    a, b = one.add(Character()), two.add(Character())
    h.tick()  # tick 0: both join at its end
    a.send(TTalk(b.guid, a.guid, "echo pong"))  # sent during tick 1's game code
    assert [] == b.heard
    h.tick()  # tick 1
    assert [(1, "echo pong")] == b.heard
    assert [] == a.heard
    h.tick()  # tick 2: the echo comes back
    assert [(2, "pong")] == a.heard


def test_messages_from_modules_reach_objects_through_the_pipe():
    h, probe, host = _host()
    space = host.spaces.create_space()
    hero = space.add(Character())
    h.tick()
    probe.send(TTalk(hero.guid, probe.guid, "echo back to you"))
    h.tick()
    assert [(1, "echo back to you")] == hero.heard
    h.tick()
    assert ["back to you"] == [m.text for m in probe.take()]


def test_additions_and_removals_take_effect_at_the_tick_boundary():
    h, _, host = _host()
    space = host.spaces.create_space()
    hero = space.add(Character())
    assert hero.guid and node_of(hero.guid) == 11
    assert 0 == len(space)
    with pytest.raises(LookupError, match="yet"):
        space.lookup(hero.guid)
    h.tick()
    assert 1 == len(space) and hero.alive
    space.remove(hero)
    assert space.lookup(hero.guid) is hero  # still there until the boundary
    h.tick()
    assert 0 == len(space) and not hero.alive


def test_a_message_to_a_removed_object_is_a_dead_letter_not_a_crash():
    h, probe, host = _host()
    space = host.spaces.create_space()
    hero = space.add(Character())
    h.tick()
    gone = hero.guid
    space.remove(hero)
    h.tick()
    probe.send(TTalk(gone, probe.guid, "anyone?"))
    h.tick()
    assert 1 == host.spaces.dead_letters


def test_destroying_a_space_unroutes_it():
    h, probe, host = _host()
    space = host.spaces.create_space()
    space.add(Character())
    h.tick()
    host.spaces.destroy_space(space)
    h.tick()
    assert 0 == len(host.spaces)
    from engine.engine import UnroutableError
    with pytest.raises(UnroutableError):
        probe.send(TTalk(make(11, space.space_id, 1), probe.guid, "x"))


class Ticker(GameObject):
    def __init__(self):
        super().__init__()
        self.ticks = []

    def on_tick(self, tick):
        self.ticks.append(tick)
        if tick == 2:
            raise RuntimeError("object bug")


def test_ticking_objects_are_ticked_and_one_failing_does_not_stop_the_node():
    h, _, host = _host()
    space = host.spaces.create_space()
    t = space.add(Ticker())
    h.tick(4)
    assert [1, 2, 3] == t.ticks
    assert 1 == host.spaces.errors
