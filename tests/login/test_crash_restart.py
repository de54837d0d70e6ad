"""Crashes: kill -9 of gamelogic mid-play, then a whole cluster stop and start; expired tokens."""

import os
import signal
import time

import pytest
from login_support import LoginCluster

from engine.login.messages import AccountCreated, EnteredWorld, LoginOk, Refused
from engine.modules.network_messages import ConnectionLost
from nodes.headless import HeadlessClient

PASSWORD = "correct horse battery"
FLUSH = 1.0  # the write-behind interval of this cluster's gamelogic node
SESSION_TTL = 2.0  # seconds its resume tokens stay good


def _player(world, name):
    client = HeadlessClient(world.login_address)
    assert isinstance(client.create_account(name, PASSWORD), AccountCreated)
    assert isinstance(client.login(name, PASSWORD), LoginOk)
    character_id = client.create_character(f"{name} Hero").characters[0][0]
    assert isinstance(client.enter_world(character_id), EnteredWorld)
    return client, character_id


def _enter_again(world, name, character_id, timeout=40.0):
    """Log in and enter until a gamelogic node takes the character; its EnteredWorld."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        world.cluster.check_processes()
        client = HeadlessClient(world.login_address)
        ok = client.login(name, PASSWORD)
        if isinstance(ok, LoginOk):
            entered = client.enter_world(character_id)
            client.close()
            if isinstance(entered, EnteredWorld):
                return entered
            assert isinstance(entered, (Refused, ConnectionLost)), entered
        else:
            client.close()
        time.sleep(0.5)
    raise AssertionError(f"{name} could not enter the world again within {timeout} s")


def test_kill_9_of_gamelogic_loses_at_most_one_interval_and_a_restart_keeps_every_character(tmp_path):
    world = LoginCluster(tmp_path, flush_interval=FLUSH,
                         extra_login=["--set", f"login.session_ttl={SESSION_TTL}"]).start()
    try:
        ann, ann_id = _player(world, "Crash Ann")
        ann_token = ann.resume_token
        ann.set_position(10.0, 20.0, 30.0)
        ann.train("cooking", 7)
        ann.pump(3 * FLUSH)  # more than one interval: this progress must survive
        ann.set_position(11.0, 21.0, 31.0)  # this may be lost: at most one interval
        gamelogic = next(n for n in world.cluster.nodes if n.role == "gamelogic")
        old_pid = gamelogic.process.pid
        os.kill(old_pid, signal.SIGKILL)
        lost = ann.world.wait_for((ConnectionLost,), timeout=10)
        assert lost is not None
        ann.close()
        expired = HeadlessClient(world.login_address).resume(ann_token)  # older than SESSION_TTL now
        assert isinstance(expired, (Refused, ConnectionLost)) and "expired or revoked" in expired.reason

        entered = _enter_again(world, "Crash Ann", ann_id)
        assert gamelogic.process.pid != old_pid  # the cluster restarted it
        x, y, _ = entered.state["character"]["position"]  # the height is the ground's
        assert (round(x), round(y)) in ((10, 20), (11, 21))
        assert 7 == entered.state["skills"]["cooking"]

        # now a clean save by logout, and one by write-behind alone, then the whole cluster stops
        bob, bob_id = _player(world, "Restart Bob")
        bob.set_position(5.0, 0.5, 99.0)
        bob.logout()
        bob.close()
        cat, cat_id = _player(world, "Restart Cat")
        cat.set_position(1.5, 2.5, 3.5)
        cat.pump(3 * FLUSH)
        cat.close()
    finally:
        world.stop()

    again = LoginCluster(tmp_path).start()  # same database file, fresh processes
    try:
        expected = {"Restart Bob": (bob_id, [5.0, 0.5]), "Restart Cat": (cat_id, [1.5, 2.5]),
                    "Crash Ann": (ann_id, entered.state["character"]["position"][:2])}
        for name, (character_id, xy) in expected.items():
            position = _enter_again(again, name, character_id).state["character"]["position"]
            assert pytest.approx(xy, abs=0.05) == position[:2]
    finally:
        again.stop()
