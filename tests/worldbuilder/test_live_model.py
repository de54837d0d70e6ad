"""Live mode without sockets: the view from Sight/Moves/Set/Disappear, edits pending until Info, losses."""

import pytest

from engine.codec import decode, encode
from gamelogic.operations import Create, Delete, Disappear, Info, Moves, Set, Sight, pack_moves
from worldbuilder import EditState, LiveWorld

AVATAR = (7 << 48) | (1 << 20) | 1
PIG = (7 << 48) | (2 << 20) | 5


def sight(guid, cls, pos, world_id="", **extra):
    entity = {"guid": guid, "id": world_id, "class": cls, "name": extra.pop("name", cls), "pos": list(pos),
              "yaw": 0.0, "health": 30, "max_health": 30, "props": extra}
    return Sight(to=AVATAR, frm=guid, entity=entity)


@pytest.fixture
def live():
    live = LiveWorld()
    assert [] == live.attach(AVATAR)
    return live


def test_sight_moves_set_and_disappear_keep_the_view(live):
    live.receive(sight(PIG, "pig", [300.0, 300.0, 1.0], name="Pig 1"))
    live.receive(Moves(to=AVATAR, frm=0,
                       updates=pack_moves([[PIG, 302.0, 301.0, 1.5, 90.0], [12345, 1.0, 1.0, 0.0, 0.0]])))
    pig = live.entities[PIG]
    assert ((302.0, 301.0, 1.5), 90.0, "Pig 1") == (pig.pos, pig.yaw, pig.name)
    live.receive(Set(to=AVATAR, frm=0, target=PIG, props={"health": 12, "speed": 1.5}))
    assert (12, {"speed": 1.5}) == (pig.health, pig.props)
    live.receive(Disappear(to=AVATAR, frm=0, target=PIG))
    assert {} == live.entities


def test_malformed_perceptions_are_ignored(live):
    for message in (Sight(to=AVATAR, frm=0, entity=None), Sight(to=AVATAR, frm=0, entity={"guid": "x"}),
                    Moves(to=AVATAR, frm=0, updates=b"\x01\x02\x03"),
                    Set(to=AVATAR, frm=0, target=PIG, props=None), Disappear(to=AVATAR, frm=0, target=99),
                    Info(to=AVATAR, frm=0, refno=77, text="ok")):
        live.receive(message)
    live.receive(sight(PIG, "pig", ["a", "b"]))
    assert (0.0, 0.0, 0.0) == live.entities[PIG].pos


def test_each_edit_is_an_operation_with_its_own_serialno(live):
    live.receive(sight(PIG, "pig", [300.0, 300.0, 0.0], world_id="meadow.pig"))
    create = live.create("spawner", (100.0, 120.0), {"spawns": "wolf"}, "forest.more_wolves")
    setter = live.set(PIG, {"pos": [310.0, 300.0]})
    delete = live.delete(PIG)
    assert [Create, Set, Delete] == [type(op) for op in (create, setter, delete)]
    assert [1, 2, 3] == [op.serialno for op in (create, setter, delete)]
    assert {"id": "forest.more_wolves", "class": "spawner", "pos": [100.0, 120.0],
            "props": {"spawns": "wolf"}} == create.entity
    assert (PIG, {"pos": [310.0, 300.0]}) == (setter.target, setter.props)
    assert PIG == delete.target
    assert all(op.frm == AVATAR for op in (create, setter, delete))
    for op in (create, setter, delete):  # what goes on the wire decodes to the same operation
        assert op == decode(encode(op))
    assert [EditState.PENDING] * 3 == [e.state for e in live.edits]
    assert ["meadow.pig", "meadow.pig"] == [e.world_id for e in live.edits[1:]]


def test_info_with_the_refno_settles_an_edit(live):
    first = live.create("pig", (1.0, 1.0), world_id="a")
    second = live.create("pig", (2.0, 2.0), world_id="b")
    live.receive(Info(to=AVATAR, frm=0, refno=second.serialno, text="refused: you are not a designer"))
    live.receive(Info(to=AVATAR, frm=0, refno=first.serialno, text="ok created a"))
    assert [EditState.DONE, EditState.REFUSED] == [e.state for e in live.edits]
    assert "you are not a designer" == live.edits[1].reason
    assert [] == live.open_edits()
    live.receive(Info(to=AVATAR, frm=0, refno=first.serialno, text="ok again"))  # answered twice: a log line
    assert EditState.DONE == live.edits[0].state
    assert ["ok again"] == live.log


def test_a_create_renamed_by_the_server_keeps_the_new_id(live):
    op = live.create("pig", (1.0, 1.0), world_id="pig")
    live.receive(Info(to=AVATAR, frm=0, refno=op.serialno, text="ok: created pig.2 1234"))
    assert (EditState.DONE, "pig.2") == (live.edits[0].state, live.edits[0].world_id)


def test_a_lost_connection_keeps_open_edits_and_resends_them(live):
    live.receive(sight(PIG, "pig", [300.0, 300.0, 0.0], world_id="meadow.pig"))
    done = live.create("pig", (1.0, 1.0), world_id="a")
    live.receive(Info(to=AVATAR, frm=0, refno=done.serialno, text="ok"))
    live.set(PIG, {"count": 4})
    live.detach("connection reset")
    assert [EditState.DONE, EditState.QUEUED] == [e.state for e in live.edits]
    assert None is live.delete(PIG)  # made while offline: queued, nothing to send
    assert ["connection lost: connection reset"] == live.log
    assert PIG in live.entities  # the last view stays on the map
    new_pig = PIG + 1  # the pig has a new Guid after the reconnect
    resent = live.attach(AVATAR + 1)
    assert [Set, Delete] == [type(op) for op in resent]
    assert [2, 3] == [op.serialno for op in resent]
    assert {} == live.entities
    live.receive(sight(new_pig, "pig", [300.0, 300.0, 0.0], world_id="meadow.pig"))
    live.detach("again")
    again = live.attach(AVATAR + 1)
    live.receive(sight(new_pig, "pig", [300.0, 300.0, 0.0], world_id="meadow.pig"))
    assert [PIG, PIG] == [op.target for op in again]  # entity not seen yet at attach: the old Guid
    again = [live._op(e) for e in live.open_edits()]
    assert [new_pig, new_pig] == [op.target for op in again]  # seen again: found by its world id


def test_export_applies_done_and_open_edits_as_one_undo_step(live, doc):
    live.receive(sight(PIG, "spawner", [300.0, 300.0, 0.0], world_id="meadow.pigs"))
    live.receive(sight(PIG + 1, "pig", [301.0, 300.0, 0.0]))  # a spawned pig: no world id
    ops = [live.create("spawner", (100.0, 120.0), {"spawns": "wolf", "count": 4}, "forest.more"),
           live.set(PIG, {"pos": [310.0, 296.0], "count": 8}),
           live.set(PIG + 1, {"health": 5}),
           live.create("rock", (50.0, 50.0), {}, "refused.rock")]
    for op in ops[:3]:
        live.receive(Info(to=AVATAR, frm=0, refno=op.serialno, text="ok"))
    live.receive(Info(to=AVATAR, frm=0, refno=ops[3].serialno, text="refused: overlaps"))
    live.delete(PIG)  # still pending: exported too, so a lost connection cannot lose it
    before = doc.text()
    applied, notes = live.export_to(doc)
    assert 3 == applied
    assert 1 == len(notes) and "not a world-file entity" in notes[0]
    assert doc.entity("forest.more").props == {"spawns": "wolf", "count": 4}
    assert doc.entity("meadow.pigs") is None  # moved, set, then deleted
    assert doc.entity("refused.rock") is None
    doc.undo()
    assert before == doc.text()
    doc.redo()
    assert (0, []) == live.export_to(doc)  # nothing is exported twice


def test_export_of_a_set_keeps_the_file_typed(live, doc):
    live.receive(sight(PIG, "spawner", [300.0, 300.0, 0.0], world_id="meadow.pigs"))
    op = live.set(PIG, {"count": "lots"})
    live.receive(Info(to=AVATAR, frm=0, refno=op.serialno, text="ok"))
    applied, notes = live.export_to(doc)
    assert (0, 1) == (applied, len(notes))
    assert "count must be a whole number" in notes[0]
    assert 5 == doc.entity("meadow.pigs").props["count"]
