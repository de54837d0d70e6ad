"""The login flow end to end: real node processes, real sockets, a real SQLite file."""

import itertools
import math
import sqlite3

import pytest

from engine.login.messages import (
    AccountCreated,
    AvatarState,
    CharacterList,
    EnteredWorld,
    LoginOk,
    Refused,
)
from engine.modules.network_messages import ConnectionLost
from nodes.headless import HeadlessClient

PASSWORD = "correct horse battery"
_names = (f"Player {chr(ord('a') + i // 26)}{chr(ord('a') + i % 26)}" for i in itertools.count())


def approx_xy(entered):
    """Where a character stands on the map (the height is the ground's), to a few centimetres."""
    return pytest.approx(entered.state["character"]["position"][:2], abs=0.05)


def new_player(world, character=True):
    """A fresh account (and character), logged in."""
    name = next(_names)
    client = HeadlessClient(world.login_address)
    assert isinstance(client.create_account(name, PASSWORD), AccountCreated)
    ok = client.login(name, PASSWORD)
    assert isinstance(ok, LoginOk), ok
    if character:
        listed = client.create_character(f"{name} Hero")
        assert isinstance(listed, CharacterList), listed
        return client, name, listed.characters[0][0]
    return client, name, None


def test_create_log_in_enter_change_log_out_and_find_it_again(world):
    client, name, character_id = new_player(world)
    entered = client.enter_world(character_id)
    assert isinstance(entered, EnteredWorld), entered
    assert entered.avatar != 0
    x, y, _ = entered.state["character"]["position"]
    assert math.hypot(x - 250.0, y - 232.0) <= 5.0  # a new character starts at the demo world's spawn point
    moved = client.set_position(12.5, 3.0, 7.25)
    assert isinstance(moved, AvatarState)
    assert [12.5, 3.0, 7.25] == moved.state["character"]["position"]
    trained = client.train("archery", 3)
    assert 3 == trained.state["skills"]["archery"]
    lost = client.logout()
    assert isinstance(lost, ConnectionLost) and "logged out" in lost.reason
    client.close()

    again = HeadlessClient(world.login_address)
    ok = again.login(name, PASSWORD)
    assert [[character_id, f"{name} Hero"]] == ok.characters
    entered = again.enter_world(character_id)
    assert [12.5, 3.0] == approx_xy(entered)  # the world puts it on the ground
    assert 3 == entered.state["skills"]["archery"]
    again.close()


def test_a_resume_token_logs_in_without_the_password_and_a_logout_revokes_it(world):
    client, name, character_id = new_player(world)
    token = client.resume_token
    client.close()
    resumed = HeadlessClient(world.login_address)
    ok = resumed.resume(token)
    assert isinstance(ok, LoginOk) and character_id == ok.characters[0][0]
    resumed.log_out_of_login()
    resumed.close()
    refused = HeadlessClient(world.login_address).resume(token)
    assert isinstance(refused, (Refused, ConnectionLost))
    assert "not valid" in refused.reason


def test_a_disconnect_saves_the_character_too(world):
    client, name, character_id = new_player(world)
    client.enter_world(character_id)
    client.set_position(1.0, 2.0, 3.0)
    client.world.close()  # the client vanishes without a Logout
    again = HeadlessClient(world.login_address)
    again.login(name, PASSWORD)
    entered = again.enter_world(character_id)
    assert [1.0, 2.0] == approx_xy(entered)
    again.close()
    client.close()


def test_a_second_login_takes_over_and_the_first_client_is_told_why(world):
    first, name, character_id = new_player(world)
    assert isinstance(first.enter_world(character_id), EnteredWorld)
    first.set_position(5.0, 5.0, 5.0)

    second = HeadlessClient(world.login_address)
    ok = second.login(name, PASSWORD)
    assert isinstance(ok, LoginOk)
    entered = second.enter_world(character_id)
    assert isinstance(entered, EnteredWorld), entered
    assert [5.0, 5.0] == approx_xy(entered)  # saved before the takeover

    lost = first.world.wait_for((ConnectionLost,), timeout=5)
    assert lost is not None and "logged in from elsewhere" in lost.reason
    lost = first.login_link.wait_for((ConnectionLost,), timeout=5)
    assert lost is not None and "logged in from elsewhere" in lost.reason
    assert isinstance(second.set_position(6.0, 6.0, 6.0), AvatarState)  # the second one plays on
    first.close()
    second.close()


def test_characters_are_created_with_unique_names_and_deleted(world):
    client, name, character_id = new_player(world)
    taken = client.create_character(f"{name} Hero")
    assert isinstance(taken, Refused) and "that name is taken" == taken.reason
    other, _, _ = new_player(world, character=False)
    assert "that name is taken" == other.create_character(f"{name} HERO").reason  # case-insensitive
    listed = client.create_character(f"{name} Second")
    assert 2 == len(listed.characters)
    after = client.delete_character(character_id)
    assert [f"{name} Second"] == [c[1] for c in after.characters]
    refused = other.delete_character(listed.characters[1][0])  # not other's to delete
    assert isinstance(refused, Refused)
    client.close()
    other.close()


def test_deleting_a_character_in_the_world_takes_it_out_first_and_nothing_brings_it_back(world):
    player, name, character_id = new_player(world)
    assert isinstance(player.enter_world(character_id), EnteredWorld)
    player.set_position(4.0, 4.0, 4.0)  # dirty in the gamelogic node's cache
    with sqlite3.connect(world.db) as db:
        (entity_id,) = db.execute("SELECT entity_id FROM characters WHERE character_id = ?",
                                  (character_id,)).fetchone()
    second = HeadlessClient(world.login_address)
    second.login(name, PASSWORD)
    assert [] == second.delete_character(character_id).characters
    lost = player.world.wait_for((ConnectionLost,), timeout=5)
    assert lost is not None and "being deleted" in lost.reason
    second.pump(1.5)  # a write-behind save after the delete would bring the entity back
    with sqlite3.connect(world.db) as db:
        assert [] == db.execute("SELECT * FROM entities WHERE entity_id = ?", (entity_id,)).fetchall()
    player.close()
    second.close()
