"""The headless GameClient against a real cluster: the login flow, the world mirror, actions, errors."""

import time

import pytest
from client_support import GameCluster

from engine.login.messages import SetPosition
from gamelogic import operations as ops
from nodes.client.headless_game import GameClient
from nodes.client.session import Phase
from nodes.runner import free_tcp_port

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ANSWERED = (ops.Hit, ops.Miss)


def _unique(prefix):
    """``prefix`` plus letters from the clock: account and character names take letters only."""
    n, out = time.monotonic_ns() // 1000, []
    while n:
        n, r = divmod(n, 26)
        out.append(_LETTERS[r])
    return prefix + "".join(out)


@pytest.fixture
def player(game_cluster):
    seen = []
    bot = GameClient(game_cluster.login_address, on_message=lambda m, now: seen.append(m))
    bot.seen = seen
    bot.play(_unique("acct"), "correct horse battery", _unique("Hero"))
    assert bot.wait_in_world(30), bot.error
    yield bot
    bot.close()


def test_play_creates_account_and_character_and_enters_a_world_it_can_see(player):
    assert player.phase is Phase.WORLD and player.me
    mirror = player.mirror
    assert mirror.terrain is not None and mirror.world["size"] == [512.0, 512.0]
    assert player.wait(lambda b: any(e.cls == "building" for e in b.mirror.entities.values()), 10)
    assert mirror.walls(), "the buildings' walls come from the stage"
    assert player.wait(lambda b: b.mirror.stats.get("max_health") == 100, 10)
    assert mirror.counts["unknown_entity"] == 0


def test_walking_moves_the_avatar_on_the_server_and_in_the_prediction(player):
    assert player.wait(lambda b: b.mirror.my_server_position() is not None or True, 0.5)
    x0, y0 = player.position[:2]
    player.move(3.0, 0.0)
    assert player.wait(lambda b: (b.mirror.my_server_position() or (x0, 0, 0))[0] > x0 + 2.0, 10)
    player.stop()
    server = player.mirror.my_server_position()
    assert player.wait(lambda b: abs(b.position[0] - b.mirror.my_server_position()[0]) < 0.3, 5)
    assert server[1] == pytest.approx(y0, abs=0.5)


def test_chat_comes_back_through_the_gld_and_talk_is_heard(player):
    text = _unique("hello")
    player.chat(text)
    assert player.wait(lambda b: any(line.text.endswith(text) and line.kind == "chat"
                                     for line in b.mirror.log), 10)
    player.talk("anyone here?")
    assert player.wait(lambda b: any(line.kind == "talk" and "anyone here?" in line.text
                                     for line in b.mirror.log), 10)


def test_a_refused_action_comes_back_as_info_with_its_serialno(player):
    serial = player.attack(424242)
    assert serial > 0
    assert player.wait(lambda b: any(isinstance(m, ops.Info) and m.refno == serial for m in b.seen), 10)
    assert "refused" in player.mirror.log[-1].text


def test_attacking_a_pig_hurts_it(player):
    player.session.act(SetPosition(0, player.me, 300.0, 296.0, 0.0))  # beside the pig spawner
    assert player.wait(lambda b: b.mirror.nearest(*b.position[:2], kind="pig") is not None, 15)
    player.wield("sword")
    hurt = False
    for _ in range(40):
        pig = player.mirror.nearest(*player.position[:2], kind="pig")
        if pig is None:
            player.wait(lambda b: False, 0.5)
            continue
        x, y = player.mirror.position(pig.guid, player.clock())[:2]
        player.session.act(SetPosition(0, player.me, x - 1.0, y, 0.0))
        player.wait(lambda b: False, 0.3)
        player.attack(pig.guid)
        if player.wait(lambda b: any(isinstance(m, _ANSWERED) and m.attacker == b.me for m in b.seen), 1.2):
            hurt = any(isinstance(m, ops.Hit) and m.attacker == player.me for m in player.seen)
            if hurt:
                break
    assert hurt, [line.text for line in player.mirror.log][-8:]
    assert any(e.kind == "hit" for e in player.mirror.take_events())


def test_leaving_the_world_returns_to_the_character_list(player):
    player.leave()
    assert player.wait(lambda b: b.phase is Phase.CHARACTERS, 15), player.error
    assert player.session.characters and player.mirror.me == 0
    player.session.enter(player.session.characters[0][0])
    assert player.wait_in_world(15)


def test_a_wrong_password_is_an_error_for_a_person(game_cluster):
    name = _unique("acct")
    bot = GameClient(game_cluster.login_address)
    try:
        bot.play(name, "correct horse battery", "Someone")
        assert bot.wait_in_world(30)
        bot.close()
        bot = GameClient(game_cluster.login_address)
        assert bot.wait(lambda b: b.phase is Phase.LOGIN, 5)
        bot.session.login(name, "wrong password entirely")
        assert bot.wait(lambda b: bool(b.error), 10)
        assert bot.phase is Phase.LOGIN and "password" in bot.error
    finally:
        bot.close()


def test_a_taken_character_name_is_an_error(game_cluster, player):
    taken = player.mirror.stats.get("name") or player.mirror.character.get("name")
    bot = GameClient(game_cluster.login_address)
    try:
        bot.play(_unique("acct"), "correct horse battery", taken)
        assert bot.wait(lambda b: bool(b.error), 15)
        assert "taken" in bot.error and not bot.in_world
    finally:
        bot.close()


def test_no_server_means_offline_with_the_reason_and_retries():
    bot = GameClient(f"127.0.0.1:{free_tcp_port()}")
    try:
        assert bot.wait(lambda b: b.phase is Phase.OFFLINE, 10)
        assert "login server" in bot.error and "retrying" in bot.session.status
    finally:
        bot.close()


def test_losing_the_world_server_goes_back_to_the_login_screen_with_the_reason(tmp_path):
    own = GameCluster(tmp_path)
    own.cluster.start(timeout=40)
    bot = None
    try:
        bot = GameClient(own.login_address)
        bot.play(_unique("acct"), "correct horse battery", _unique("Hero"))
        assert bot.wait_in_world(30), bot.error
        gamelogic = next(n for n in own.cluster.nodes if n.role == "gamelogic")
        gamelogic.process.kill()
        assert bot.wait(lambda b: b.phase in (Phase.LOGIN, Phase.OFFLINE) and b.error, 15)
        assert bot.error.startswith("disconnected from the world")
        assert bot.mirror.me == 0 and not bot.mirror.entities
        assert bot.wait(lambda b: b.phase is Phase.LOGIN, 10)  # the login node is still there
    finally:
        if bot is not None:
            bot.close()
        own.cluster.stop()


def test_touching_a_door_opens_or_shuts_it_in_the_mirror(player):
    player.session.act(SetPosition(0, player.me, 280.0, 243.0, 0.0))  # outside the house's door

    def door(b):
        return next((e for e in b.mirror.entities.values() if e.wid == "village.house.door"), None)

    assert player.wait(lambda b: door(b) is not None, 10)
    assert player.wait(lambda b: abs((b.mirror.my_server_position() or (0, 0, 0))[1] - 243.0) < 1.0, 10)
    was = bool(door(player).props.get("open"))
    version = player.mirror.stage_version
    player.touch(door(player).guid)
    assert player.wait(lambda b: bool(door(b).props.get("open")) is not was, 10), player.mirror.log[-1]
    assert player.mirror.stage_version > version
    assert player.mirror.log[-1].text == "ok: the door is " + ("shut" if was else "open")
    assert "village.house.door" in player.mirror.stage().doors


def test_a_pig_killed_leaves_a_corpse_that_can_be_looted(player):
    player.session.act(SetPosition(0, player.me, 300.0, 296.0, 0.0))
    assert player.wait(lambda b: b.mirror.nearest(*b.position[:2], kind="pig") is not None, 15)
    player.wield("sword")
    pig = player.mirror.nearest(*player.position[:2], kind="pig")
    died = False
    for _ in range(60):
        died = any(isinstance(m, ops.Death) and m.target == pig.guid for m in player.seen)
        if died or pig.guid not in player.mirror.entities:
            break
        x, y = pig.last[:2]
        player.session.act(SetPosition(0, player.me, x - 1.0, y, 0.0))
        player.wait(lambda b: False, 0.25)
        player.attack(pig.guid)
        player.wait(lambda b: False, 0.9)
    assert died, [line.text for line in player.mirror.log][-6:]
    death = next(m for m in player.seen if isinstance(m, ops.Death) and m.target == pig.guid)
    assert player.wait(lambda b: death.corpse in b.mirror.entities, 5)
    assert player.mirror.entity(death.corpse).cls == "corpse"
    player.touch(death.corpse)
    assert player.wait(lambda b: b.mirror.log[-1].text.startswith("ok: you take"), 10), player.mirror.log[-1]
    assert player.wait(lambda b: any(i.get("item") == "ham" for i in b.mirror.stats.get("inventory", [])), 10)
