"""The GLD's placement without sockets: messages in, messages out."""

from engine.guid import WellKnown, module_guid
from engine.login.messages import (
    DropPlayer,
    ExpectPlayer,
    LeaveWorld,
    PlacePlayer,
    PlayerExpected,
    PlayerLeft,
    PlayerPlaced,
    WorldLeft,
)
from nodes.gld import NodeEntry
from nodes.placement import Placement

GLD = module_guid(1, WellKnown.GLD)
LOGIN = module_guid(100, WellKnown.LOGIN)


def gate(node):
    return module_guid(node, WellKnown.GAMELOGIC)


def directory(*nodes):
    return {n: NodeEntry(n, "gamelogic", f"tcp://x:{n}", 1, extra={"clients": f"127.0.0.1:{n}"})
            for n in nodes}


def place(p, d, account, serial, now=0.0):
    msg = PlacePlayer(GLD, LOGIN, serial, account, account * 10, account * 100, f"t{serial}")
    return p.place(msg, d, now)


def test_a_player_goes_to_the_node_with_the_fewest_players_once_it_acknowledges():
    p, d = Placement(GLD), directory(2000, 2001)
    (expect,) = place(p, d, 7, serial=1)
    assert isinstance(expect, ExpectPlayer) and gate(2000) == expect.to and "t1" == expect.token
    (placed,) = p.expected(PlayerExpected(GLD, gate(2000), expect.serial, ""), d, 0.0)
    assert PlayerPlaced(LOGIN, GLD, 1, 2000, "127.0.0.1:2000", "") == placed
    (expect,) = place(p, d, 8, serial=2)
    assert gate(2001) == expect.to
    assert {7: (2000, 70)} == p.players


def test_a_second_login_drops_the_first_then_places_anew():
    p, d = Placement(GLD), directory(2000)
    (expect,) = place(p, d, 7, serial=1)
    p.expected(PlayerExpected(GLD, gate(2000), expect.serial, ""), d, 0.0)
    (drop,) = place(p, d, 7, serial=2)
    assert isinstance(drop, DropPlayer) and gate(2000) == drop.to and 7 == drop.account_id
    assert [] == p.left(PlayerLeft(GLD, gate(2001), 7, 70), d, 0.0)  # not from that node: ignored
    (expect,) = p.left(PlayerLeft(GLD, gate(2000), 7, 70), d, 0.0)
    assert isinstance(expect, ExpectPlayer) and "t2" == expect.token


def test_no_node_a_refusal_or_silence_is_an_error_for_the_login_node():
    p = Placement(GLD, timeout=5.0)
    (answer,) = place(p, {}, 7, serial=1)
    assert "no gamelogic node is up" == answer.error
    d = directory(2000)
    (expect,) = place(p, d, 7, serial=2)
    (answer,) = p.expected(PlayerExpected(GLD, gate(2000), expect.serial, "full"), d, 0.0)
    assert "refused: full" in answer.error and {} == p.players
    place(p, d, 8, serial=3)
    assert [] == p.tick(d, 4.0)
    (answer,) = p.tick(d, 6.0)
    assert 3 == answer.serial and "did not answer" in answer.error


def test_a_dead_node_loses_its_players_and_a_pending_drop_places_at_once():
    p, d = Placement(GLD), directory(2000, 2001)
    (expect,) = place(p, d, 7, serial=1)
    p.expected(PlayerExpected(GLD, gate(2000), expect.serial, ""), d, 0.0)
    place(p, d, 7, serial=2)  # a DropPlayer to 2000 is pending
    d[2000].alive = False
    (expect,) = p.node_gone(2000, d, 1.0)
    assert gate(2001) == expect.to and {} == p.players


def test_leave_world_drops_a_playing_character_before_answering():
    p, d = Placement(GLD), directory(2000)
    (left,) = p.leave(LeaveWorld(GLD, LOGIN, 5, 7), d, 0.0)
    assert WorldLeft(LOGIN, GLD, 5) == left  # not in the world: at once
    (expect,) = place(p, d, 7, serial=1)
    p.expected(PlayerExpected(GLD, gate(2000), expect.serial, ""), d, 0.0)
    (drop,) = p.leave(LeaveWorld(GLD, LOGIN, 6, 7), d, 0.0)
    assert isinstance(drop, DropPlayer) and "being deleted" in drop.reason
    assert [WorldLeft(LOGIN, GLD, 6)] == p.left(PlayerLeft(GLD, gate(2000), 7, 70), d, 0.0)
    assert {} == p.players
