"""The demo game end to end: real node processes, bots over real sockets, the AI node killed."""

import os
import random
import signal
import sqlite3
import time

from gamelogic import operations as ops
from gamelogic.classes import ClassTree
from nodes.bots import Bot, BotLoop, run_bots
from nodes.client.headless_game import GameClient

PASSWORD = "a password for tests"


def _player(cluster, name):
    client = GameClient(cluster.login_address)
    client.play(name, PASSWORD, f"{name} Hero")
    assert client.wait_in_world(30), client.error
    return client


def test_bots_fight_pigs_and_chat_through_the_gld(cluster):
    fight = run_bots(3, cluster.login_address, scenario="fight", seconds=15, seed=1, progress=lambda _: None)
    assert 3 == fight.in_world, fight.lines()
    assert not fight.errors, fight.errors
    assert fight.latencies.get("attack"), fight.lines()  # they found pigs and hit or missed them
    assert fight.frames_per_second() > 10
    chat = run_bots(2, cluster.login_address, scenario="chat", seconds=10, seed=2, progress=lambda _: None)
    assert 2 == chat.in_world and not chat.errors, chat.lines()
    assert chat.latencies.get("chat"), chat.lines()


def test_bots_are_stepped_when_something_arrives_or_is_due_not_on_a_beat(cluster):
    loop = BotLoop()
    tree = ClassTree.load()
    bots = [Bot(i, cluster.login_address, "wander", random.Random(i), "Beat", tree) for i in range(2)]
    try:
        for bot in bots:
            bot.start()
            loop.add(bot)
        deadline = time.monotonic() + 30
        while not all(b.entered or b.gone for b in bots) and time.monotonic() < deadline:
            loop.run_until(time.monotonic() + 0.2)
        assert all(b.in_world for b in bots), [dict(b.errors) for b in bots]
        steps, frames = loop.steps, sum(b.frames() for b in bots)
        loop.run_until(time.monotonic() + 3.0)
        steps, frames = loop.steps - steps, sum(b.frames() for b in bots) - frames
        assert frames >= 2 * 3 * 10  # the server's frames keep coming (20 a second)
        # one step per frame, give or take a decision (every 0.5 s at most) or a keepalive; a loop on a
        # 5 ms beat takes 1,200 steps here
        assert steps <= frames + 2 * (6 + 3) + 10, (steps, frames)
        assert any(b.latencies.get("move") for b in bots)  # and they still walk and time it
    finally:
        loop.close()
        for bot in bots:
            bot.close()


def _npc_positions(client):
    return {g: e.last[:2] for g, e in client.mirror.entities.items() if e.cls in ("pig", "wolf")}


def test_without_the_ai_node_npcs_stand_still_and_the_game_goes_on(cluster):
    watcher = _player(cluster, "Watcher")
    assert watcher.wait(lambda c: len(_npc_positions(c)) >= 3, 20)  # the meadow's pigs are in sight
    assert watcher.wait(
        lambda c: (
            c.mirror.updates > 0
            and any(e.cls == "pig" and len(e.samples) > 3 for e in c.mirror.entities.values())
        ),
        20,
    )  # and they wander

    ai = next(n for n in cluster.cluster.nodes if n.role == "ai")
    old_pid = ai.process.pid
    os.kill(old_pid, signal.SIGSTOP)  # the brains freeze: no more Act from the AI node
    try:
        watcher.wait(lambda c: False, 3.5)  # the world notices the silence after 2 s
        before = _npc_positions(watcher)
        watcher.move(3.0, 0.0)
        start = watcher.mirror.my_server_position()
        assert watcher.wait(lambda c: c.mirror.my_server_position() != start, 5)  # the game goes on
        watcher.stop()
        watcher.wait(lambda c: False, 2.0)
        after = _npc_positions(watcher)
        still = [g for g in before if g in after and before[g] == after[g]]
        assert len(still) == len([g for g in before if g in after]) > 0
    finally:
        os.kill(old_pid, signal.SIGCONT)
    assert watcher.wait(lambda c: _npc_positions(c) != after, 20)  # the brains are back: they move again
    watcher.close()


def _grant(cluster, name, role):
    with sqlite3.connect(cluster.db) as db:
        db.execute("UPDATE accounts SET roles = ? WHERE name = ?", (role, name))


def test_a_designer_places_a_spawner_live_and_a_player_may_not(cluster):
    designer = GameClient(cluster.login_address)
    designer.play("Dora", PASSWORD, "Dora Builder")
    assert designer.wait(lambda c: c.phase.name in ("CHARACTERS", "ENTERING", "WORLD"), 30)
    designer.close()
    _grant(cluster, "Dora", "designer")
    designer = _player(cluster, "Dora")
    player = _player(cluster, "Percy")

    spec = {"class": "spawner", "pos": [250.0, 240.0], "props": {"spawns": "wolf", "count": 1}}
    refused = player.session.act(ops.Create(0, 0, entity=spec))
    assert player.wait(
        lambda c: any(line.kind == "info" and "refused" in line.text for line in c.mirror.log), 10
    )
    assert refused

    serial = designer.session.act(ops.Create(0, 0, entity=spec))
    answers = []
    designer.on_message = lambda m, now: (
        answers.append(m) if isinstance(m, ops.Info) and m.refno == serial else None
    )
    assert designer.wait(lambda c: answers, 10)
    assert answers[0].text.startswith("ok: created"), answers[0].text
    deadline = time.monotonic() + 15
    wolves = []
    while time.monotonic() < deadline and not wolves:
        player.pump()
        wolves = [e for e in player.mirror.entities.values() if e.cls == "wolf"]
        time.sleep(0.01)
    assert wolves, "the player never saw the spawner's wolf"
    designer.close()
    player.close()


def test_live_edits_are_saved_through_persistence_and_survive_a_restart(cluster):
    _player(cluster, "Edith").close()
    _grant(cluster, "Edith", "designer")
    designer = _player(cluster, "Edith")
    spec = {"id": "live.rock", "class": "rock", "pos": [245.0, 228.0]}
    serial = designer.session.act(ops.Create(0, 0, entity=spec))
    assert designer.wait(lambda c: any(line.kind == "info" and "created live.rock" in line.text
                                       for line in c.mirror.log), 10), serial
    designer.wait(lambda c: False, 1.0)  # a new entity is written at the next flush
    with sqlite3.connect(cluster.db) as db:
        (state,) = db.execute("SELECT state FROM entities WHERE class = 'WorldEdits'").fetchone()
    assert b"live.rock" in state
    designer.close()

    gamelogic = next(n for n in cluster.cluster.nodes if n.role == "gamelogic")
    old_pid = gamelogic.process.pid
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    viewer = None
    while viewer is None and time.monotonic() < deadline:
        cluster.cluster.check_processes()  # notices the death and restarts the node
        client = GameClient(cluster.login_address)
        client.play("Edith", PASSWORD, "Edith Hero")
        if client.wait_in_world(10):
            viewer = client
        else:
            client.close()
            time.sleep(0.5)
    assert viewer is not None and gamelogic.process.pid != old_pid
    assert viewer.wait(lambda c: any(e.wid == "live.rock" for e in c.mirror.entities.values()), 15)
    viewer.close()


def test_players_see_each_other_fight_chat_leave_and_come_back_with_the_skills_they_earned(cluster):
    ann, bob = _player(cluster, "Annie"), _player(cluster, "Bobby")
    assert ann.wait(lambda c: bob.me in c.mirror.entities, 15)  # both start at the spawn point
    assert bob.wait(lambda c: ann.me in c.mirror.entities, 15)

    def both(seconds):  # Bob keeps reading too, or the server drops him as a dead connection
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ann.pump()
            bob.pump()
            time.sleep(0.01)

    # Ann hunts the meadow's pigs with her sword until her swordsmanship has risen
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and ann.mirror.stats.get("skills", {}).get("swordsmanship", 0) < 1.0:
        both(0.0)
        here = ann.mirror.my_server_position()
        pig = ann.mirror.nearest(here[0], here[1], kind="pig") if here else None
        if pig is None:
            both(0.2)
            continue
        p = ann.mirror.position(pig.guid, time.monotonic())
        dx, dy = p[0] - here[0], p[1] - here[1]
        d = max((dx * dx + dy * dy) ** 0.5, 1e-6)
        if d > 2.0:
            ann.move(dx / d * 5.0, dy / d * 5.0)
            both(0.1)
        else:
            ann.stop()
            ann.attack(pig.guid)
            both(1.05)
    earned = ann.mirror.stats["skills"]["swordsmanship"]
    assert earned >= 1.0

    line = "well met, Bobby"
    ann.chat(line)
    both(0.5)  # Ann's link sends what she said when it ticks
    assert bob.wait(lambda c: any(entry.text.endswith(line) for entry in c.mirror.log), 10)

    ann.leave()  # a clean logout: saved, back at the character list
    both(0.5)
    assert ann.wait(lambda c: not c.in_world, 10)
    assert bob.wait(lambda c: ann.me not in c.mirror.entities, 10)  # she is gone from his view
    ann.close()
    again = _player(cluster, "Annie")
    assert again.wait(lambda c: c.mirror.stats.get("skills"), 10)
    assert again.mirror.stats["skills"]["swordsmanship"] == earned
    again.close()
    bob.close()


def test_what_a_player_may_not_do_is_refused_and_changes_nothing(cluster):
    cheat = _player(cluster, "Cheater")
    refusals = []
    cheat.on_message = lambda m, now: refusals.append(m) if isinstance(m, ops.Info) and m.refno else None

    def refused(serial):
        assert cheat.wait(lambda c: any(m.refno == serial for m in refusals), 10), serial
        (answer,) = [m for m in refusals if m.refno == serial]
        assert answer.text.startswith("refused"), answer.text
        return answer.text

    assert "you know no spell" in refused(cheat.cast(cheat.me, "fireball"))
    assert "no 'axe'" in refused(cheat.wield("axe"))
    assert cheat.wait(lambda c: c.mirror.nearest(*c.position[:2], kind="trader") is not None, 10)
    far = cheat.mirror.nearest(*cheat.position[:2], kind="trader")  # 8 m or more from the spawn point
    assert "out of reach" in refused(cheat.attack(far.guid))
    assert "only designers" in refused(cheat.session.act(ops.Delete(0, 0, target=far.guid)))
    assert far.guid in cheat.mirror.entities

    start = cheat.mirror.my_server_position()
    cheat.session.act(ops.Move(0, 0, vx=1e9, vy=0.0, yaw=0.0))  # far faster than a player may run
    cheat.wait(lambda c: False, 1.0)
    cheat.session.act(ops.Move(0, 0, vx=0.0, vy=0.0, yaw=0.0))
    cheat.wait(lambda c: False, 0.5)
    end = cheat.mirror.my_server_position()
    assert 0 < end[0] - start[0] <= 6.0 * 1.6 + 0.5  # a player's speed (6 m/s) for about a second
    cheat.close()
