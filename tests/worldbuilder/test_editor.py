"""The editor's actions without a window: on the file, or as operations on the live world."""

import pytest

from gamelogic.operations import Create, Delete, Set, Sight
from worldbuilder import EditError, LiveWorld
from worldbuilder._editor import Editor

AVATAR = 99
SPAWNER = 1234


@pytest.fixture
def live_editor(doc):
    live = LiveWorld()
    live.attach(AVATAR)
    live.receive(Sight(to=AVATAR, frm=0, entity={
        "guid": SPAWNER, "id": "meadow.pigs", "class": "spawner", "name": "", "pos": [300.0, 300.0, 0.0],
        "yaw": 10.0, "health": 0, "max_health": 0, "props": {"count": 5}}))
    sent = []
    editor = Editor(doc, live, send=sent.append)
    return editor, live, sent


def test_file_mode_actions_go_to_the_document(doc):
    editor = Editor(doc)
    assert "file" == editor.target
    assert "placed pig at 10, 20" == editor.place("pig", (10.0, 20.0))
    editor.move(2.0, 0.0)
    editor.rotate(90.0)
    assert ((12.0, 20.0), 90.0) == (doc.entity("pig").pos, doc.entity("pig").yaw)
    assert "duplicated 1" == editor.duplicate((1.0, 1.0))
    editor.set_field("health", "12")
    assert 12 == doc.entity("pig.2").props["health"]
    assert "deleted 1" == editor.delete()
    assert "select something to delete" == editor.delete()
    with pytest.raises(EditError):
        editor.toggle_target()


def test_live_actions_become_operations_on_the_chosen_entity(live_editor, doc):
    editor, live, sent = live_editor
    assert "live" == editor.target
    editor.live_selected = SPAWNER
    editor.move(2.0, -1.0)
    editor.rotate(-20.0)
    editor.set_field("count", "7")
    editor.duplicate((3.0, 0.0))
    editor.delete()
    assert [Set, Set, Set, Create, Delete] == [type(op) for op in sent]
    assert [{"pos": [302.0, 299.0]}, {"yaw": 350.0}, {"count": 7}] == [op.props for op in sent[:3]]
    copy = {"id": "spawner", "class": "spawner", "pos": [303.0, 300.0], "props": {"count": 5}}
    assert copy == sent[3].entity
    assert SPAWNER == sent[4].target and editor.live_selected is None
    assert not doc.dirty  # the file is not touched by live edits


def test_live_placing_picks_an_id_free_in_the_file_the_world_and_the_edits_in_flight(live_editor, doc):
    editor, live, sent = live_editor
    doc.place("rock", (1.0, 1.0))  # "rock" is taken in the file
    editor.place("rock", (5.0, 5.0))
    editor.place("rock", (6.0, 6.0))
    assert ["rock.2", "rock.3"] == [op.entity["id"] for op in sent]
    with pytest.raises(EditError):
        editor.place("dragon", (1.0, 1.0))


def test_live_fields_are_type_checked_before_anything_is_sent(live_editor):
    editor, live, sent = live_editor
    editor.live_selected = SPAWNER
    for key, text in (("count", "many"), ("pos", "1"), ("no_such", "1")):
        with pytest.raises(EditError):
            editor.set_field(key, text)
    assert [] == sent


def test_switching_to_the_file_leaves_the_live_entity_alone(live_editor, doc):
    editor, live, sent = live_editor
    editor.live_selected = SPAWNER
    assert "editing the file" == editor.toggle_target()
    doc.select(["meadow.rock.1"])
    editor.move(2.0, 0.0)
    assert [] == sent
    assert (322.0, 280.0) == doc.entity("meadow.rock.1").pos


def test_offline_live_edits_are_queued_not_lost(live_editor):
    editor, live, sent = live_editor
    live.detach("gone")
    assert "live: create pig pig queued (not connected)" == editor.place("pig", (1.0, 1.0))
    assert [None] == sent
    assert 1 == len(live.open_edits())


def test_live_actions_without_a_live_choice_leave_the_file_alone(live_editor, doc):
    editor, live, sent = live_editor
    doc.select(["meadow.rock.1"])  # selected before switching to live
    before = doc.text()
    for action in (lambda: editor.move(2.0, 0.0), lambda: editor.rotate(15.0), editor.delete,
                   lambda: editor.duplicate((1.0, 1.0))):
        assert action().startswith("click a live entity first")
    assert (before, []) == (doc.text(), sent)
