"""The editing model without a window: selection, every command with undo and redo, dirty, saving."""

import pytest

from gamelogic.worldfile import load_world
from worldbuilder import Document, EditError, open_document, save_document


def test_opens_the_demo_world_clean_and_without_problems(doc):
    assert [] == doc.problems()
    assert not doc.dirty
    assert 29 == len(doc.world.entities)
    assert not doc.protected


def test_the_shipped_demo_world_opens_protected():
    from gamelogic.worldfile import DEMO_WORLD
    assert open_document(DEMO_WORLD).protected


# -- selection ------------------------------------------------------------------------------------


def test_click_picks_the_smallest_footprint_under_the_point(doc):
    # the inn's inner door stands inside the inn: the door wins
    assert "village.inn.inner_door" == doc.pick(250.0, 250.3)
    assert "village.inn" == doc.pick(247.0, 252.0)
    assert doc.pick(10.0, 10.0) is None


def test_pick_tolerance_reaches_just_outside_a_footprint(doc):
    rock = doc.entity("meadow.rock.1")  # radius 1.2 at (320, 280)
    assert rock.pos == (320.0, 280.0)
    assert doc.pick(321.5, 280.0) is None
    assert "meadow.rock.1" == doc.pick(321.5, 280.0, tolerance=0.5)


def test_box_selects_what_lies_inside_whatever_corner_order(doc):
    forest = doc.in_box(160.0, 460.0, 80.0, 340.0)
    assert {"forest.wolves"} | {f"forest.tree.0{n}" for n in range(1, 8)} <= set(forest)
    assert not any(i.startswith("village") for i in forest)


def test_select_add_and_toggle(doc):
    doc.select(["village.inn"])
    doc.select(["village.house", "no.such.thing"], add=True)
    assert ["village.inn", "village.house"] == doc.selection
    doc.toggle("village.inn")
    assert ["village.house"] == doc.selection
    doc.toggle("village.inn")
    assert ["village.house", "village.inn"] == doc.selection
    doc.clear_selection()
    assert [] == doc.selection


def test_selection_changes_are_not_edits(doc):
    doc.select_all()
    assert not doc.dirty
    assert not doc.history.can_undo


# -- commands -------------------------------------------------------------------------------------


def test_place_adds_a_selected_entity_with_a_fresh_id(doc):
    first = doc.place("pig", (300.0, 310.0))
    second = doc.place("pig", (302.0, 310.0))
    assert ("pig", "pig.2") == (first, second)
    assert [second] == doc.selection
    assert (302.0, 310.0) == doc.entity(second).pos
    assert doc.dirty


def test_place_refuses_unknown_classes_wrong_props_and_bad_positions(doc):
    with pytest.raises(EditError, match="no class 'dragon'"):
        doc.place("dragon", (1.0, 1.0))
    with pytest.raises(EditError, match="health must be a whole number"):
        doc.place("pig", (1.0, 1.0), {"health": "lots"})
    with pytest.raises(EditError, match="position"):
        doc.place("pig", (float("nan"), 1.0))
    with pytest.raises(EditError, match="taken"):
        doc.place("pig", (1.0, 1.0), entity_id="village.inn")
    assert not doc.dirty


def _snapshot(doc):
    return doc.text()


@pytest.mark.parametrize("action", [
    "place", "move", "rotate", "duplicate", "delete", "set", "reset", "set_pos", "set_yaw",
])
def test_every_command_undoes_and_redoes_exactly(doc, action):
    before = _snapshot(doc)
    doc.select(["village.house", "meadow.pigs"])
    if action == "place":
        doc.place("wolf", (100.0, 100.0), {"health": 80})
    elif action == "move":
        doc.move_selection(4.0, -2.0)
    elif action == "rotate":
        doc.rotate_selection(-15.0)
    elif action == "duplicate":
        doc.duplicate_selection()
    elif action == "delete":
        doc.delete_selection()
    elif action == "set":
        doc.set_property(["meadow.pigs"], "count", "9")
    elif action == "reset":
        doc.reset_property(["meadow.pigs"], "spawn_radius")
    elif action == "set_pos":
        doc.set_property(["meadow.pigs"], "pos", "[310, 305.5]")
    elif action == "set_yaw":
        doc.set_property(["village.house", "meadow.pigs"], "yaw", "90")
    after = _snapshot(doc)
    assert before != after
    assert doc.dirty
    assert doc.undo() is not None
    assert before == _snapshot(doc)
    assert not doc.dirty
    assert doc.redo() is not None
    assert after == _snapshot(doc)
    assert doc.undo() and not doc.undo()  # one undo step each


def test_move_shifts_every_selected_entity(doc):
    doc.select(["village.house", "village.house.door"])
    doc.move_selection(10.0, 0.0)
    assert (290.0, 250.0) == doc.entity("village.house").pos
    assert (290.0, 246.0) == doc.entity("village.house.door").pos
    assert [] == doc.problems()  # the door moved with its wall


def test_rotate_keeps_yaw_in_a_turn(doc):
    doc.select(["village.trader"])
    doc.rotate_selection(-15.0)
    assert 345.0 == doc.entity("village.trader").yaw
    doc.rotate_selection(30.0)
    assert 15.0 == doc.entity("village.trader").yaw


def test_duplicate_copies_overrides_with_new_ids_and_selects_the_copies(doc):
    doc.select(["forest.wolves", "forest.tree.07"])
    copies = doc.duplicate_selection((2.0, -2.0))
    assert ["forest.wolves.2", "forest.tree.19"] == copies  # trees 01..18 exist
    assert copies == doc.selection
    wolves = doc.entity("forest.wolves.2")
    assert ("spawner", (142.0, 398.0)) == (wolves.cls, wolves.pos)
    assert {"spawns": "wolf", "count": 2, "spawn_radius": 25.0, "respawn": 40.0} == wolves.props
    wolves.props["count"] = 99  # a copy, not a share
    assert 2 == doc.entity("forest.wolves").props["count"]


def test_delete_and_undo_put_the_entity_back_in_its_place(doc):
    order = [e.id for e in doc.world.entities]
    doc.select(["village.inn"])
    doc.delete_selection()
    assert doc.entity("village.inn") is None
    assert {"village.inn.door", "village.inn.inner_door"} == {
        p.entity for p in doc.problems() if "not in a wall" in p.message}
    doc.undo()
    assert order == [e.id for e in doc.world.entities]
    assert ["village.inn"] == doc.selection


def test_set_property_checks_the_type_the_class_tree_gives(doc):
    with pytest.raises(EditError, match="count must be a whole number, got 'many'"):
        doc.set_property(["meadow.pigs"], "count", "many")
    with pytest.raises(EditError, match="spawner has no property 'colour_name'"):
        doc.set_property(["meadow.pigs"], "colour_name", "red")
    with pytest.raises(EditError, match="cannot be changed"):
        doc.set_property(["meadow.pigs"], "class", "pig")
    assert not doc.dirty
    doc.set_property(["meadow.pigs"], "spawn_radius", "7")  # an int where a float is: a float
    assert 7.0 == doc.entity("meadow.pigs").props["spawn_radius"]
    doc.set_property(["meadow.pigs"], "spawns", "wolf")
    assert "wolf" == doc.entity("meadow.pigs").props["spawns"]


def test_setting_a_property_on_several_entities_is_one_undo_step(doc):
    doc.set_property(["forest.tree.01", "forest.tree.02"], "height", "12.5")
    assert [12.5, 12.5] == [doc.entity(f"forest.tree.0{n}").props["height"] for n in (1, 2)]
    doc.undo()
    assert all("height" not in doc.entity(f"forest.tree.0{n}").props for n in (1, 2))


def test_setting_the_value_an_entity_already_has_is_no_edit(doc):
    doc.set_property(["meadow.pigs"], "count", "5")
    assert not doc.history.can_undo


def test_reset_property_brings_back_the_inherited_value(doc):
    doc.reset_property(["village.inn"], "size")
    assert [12.0, 8.0] == doc.props_of(doc.entity("village.inn"))["size"]
    assert any("reaches outside" in p.message for p in doc.problems())  # its rooms no longer fit


def test_a_new_command_after_undo_drops_the_redo_branch(doc):
    doc.place("pig", (1.0, 1.0))
    doc.undo()
    doc.place("wolf", (1.0, 1.0))
    assert not doc.history.can_redo
    assert doc.redo() is None


# -- dirty and saving -------------------------------------------------------------------------------


def test_dirty_follows_the_saved_state_through_undo_and_redo(doc):
    doc.place("pig", (1.0, 1.0))
    save_document(doc)
    assert not doc.dirty
    doc.undo()
    assert doc.dirty
    doc.redo()
    assert not doc.dirty
    doc.undo()
    doc.place("wolf", (2.0, 2.0))  # the saved state is gone for good
    assert doc.dirty
    doc.undo()
    assert doc.dirty


def test_saved_file_round_trips_and_a_second_save_changes_nothing(doc, tree):
    doc.place("spawner", (100.0, 120.0), {"spawns": "wolf", "count": 4})
    doc.set_property(["village.trader"], "health", "250")
    path = save_document(doc)
    text = path.read_text()
    again = open_document(path, tree)
    assert [] == again.problems()
    assert text == again.text()
    save_document(again)
    assert text == path.read_text()
    wolves = again.entity("spawner")
    assert ((100.0, 120.0), {"spawns": "wolf", "count": 4}) == (wolves.pos, wolves.props)
    assert 250 == again.entity("village.trader").props["health"]


def test_nothing_is_written_until_the_designer_saves(doc):
    on_disk = doc.path.read_text()
    doc.place("pig", (5.0, 5.0))
    doc.select_all()
    doc.delete_selection()
    assert on_disk == doc.path.read_text()


def test_save_warnings_for_problems_and_the_demo_world(doc, tree, tmp_path, demo_text):
    assert [] == doc.save_warnings(doc.path)
    doc.place("rock", (320.5, 280.0))  # on the meadow rock
    assert ["the world has 1 validation problem(s)"] == doc.save_warnings(doc.path)
    demo = Document.from_text(demo_text, tree, path=tmp_path / "demo.toml", protected=True)
    assert "demo world" in demo.save_warnings(tmp_path / "demo.toml")[0]
    assert [] == demo.save_warnings(tmp_path / "mine.toml")
    save_document(demo, tmp_path / "mine.toml")
    assert not demo.protected  # it is the designer's own file now


def test_save_as_moves_the_document_to_the_new_file(doc, tmp_path):
    doc.place("pig", (5.0, 5.0))
    target = save_document(doc, tmp_path / "copy.toml")
    assert (target, False) == (doc.path, doc.dirty)
    world, problems = load_world(target)
    assert [] == problems
    assert world.entity("pig") is not None
