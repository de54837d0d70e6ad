"""A real cluster under players: metrics on every node, top, snoop, and the gamelogic node's
recording replaying identical (whole, truncated, and stopped at a tick)."""

import shutil
import subprocess
import time

import msgpack
import pytest
from observe_support import (
    ObservedCluster,
    Players,
    enter,
    promtool,
    sample,
    scrape,
    spenefett,
    wait_until,
)

from engine.pipes.recorder import segment_paths
from engine.recording import read_meta
from nodes.cluster import SERVER_ROLES
from nodes.snoop import snoop_lines

PLAYERS = 6
LOAD_SECONDS = 20


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    c = ObservedCluster(tmp_path_factory.mktemp("observed"))
    players = None
    try:
        c.start()
        login = c.extra_of("login")["clients"]
        players = Players().start()
        for _ in range(PLAYERS):
            players.add(enter(login))
        wait_until(lambda: players.actions >= 50, 60, "the players to get going")
        c.players = players
        yield c
    finally:
        if players is not None:
            players.stop()
        c.stop()


def test_promtool_accepts_every_nodes_metrics(observed):
    tool = promtool()
    rows = [r for r in observed.rows() if r[3]]
    assert {role for role, _ in SERVER_ROLES} == {r[1] for r in rows}
    for node, role, _address, _alive, extra in rows:
        text = scrape(extra["metrics"])
        assert f'spenefett_node_info{{node="{node}",role="{role}"}} 1.0' in text
        checked = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True,
                                 timeout=30)
        assert 0 == checked.returncode, f"{role}: {checked.stdout}{checked.stderr}"
        assert "" == checked.stdout.strip() + checked.stderr.strip(), role


def test_metrics_count_clients_entities_pipes_peers_and_database_time(observed):
    text = scrape(observed.extra_of("gamelogic")["metrics"])
    assert PLAYERS == sample(text, "spenefett_clients", module="net")
    assert sample(text, "spenefett_objectspaces", module="logic") >= PLAYERS  # + the world's
    assert sample(text, "spenefett_entities", module="logic") >= PLAYERS
    assert sample(text, "spenefett_pipe_messages_total", pipe="net->logic") > 0
    assert sample(text, "spenefett_module_tick_seconds_count", module="logic") > 0
    assert 1 == sample(text, "spenefett_peer_up", peer="1")
    wait_until(lambda: sample(scrape(observed.extra_of("gamelogic")["metrics"]),
                              "spenefett_peer_rtt_seconds", peer="1") is not None, 10, "a Pong from the GLD")
    assert 1 == sample(text, "spenefett_recording_active")
    persistence = scrape(observed.extra_of("persistence")["metrics"])
    assert sample(persistence, "spenefett_db_last_job_seconds", module="persistence") >= 0
    assert sample(persistence, "spenefett_db_busy_seconds_total", module="persistence") >= 0
    assert sample(persistence, "spenefett_db_loads_total", module="persistence") >= PLAYERS


def test_top_once_shows_every_node_with_its_clients_and_modules(observed):
    done = spenefett("top", "--gld", observed.gld, "--once")
    assert 0 == done.returncode, done.stderr
    lines = done.stdout.splitlines()
    assert f"{len(SERVER_ROLES)}/{len(SERVER_ROLES)} nodes answering" in lines[0]
    assert "\x1b[" not in done.stdout  # not a terminal: no colour
    gamelogic = next(line for line in lines if line.split()[:2] == ["2000", "gamelogic"])
    # node role ticks p50 p99 overruns gc clients ...
    assert PLAYERS == int(gamelogic.split()[7])  # the clients column
    assert "gc" in lines[1] and float(gamelogic.split()[6]) >= 0  # the longest collector pause, ms
    assert any(line.split()[:1] == ["logic"] and "p99" in line for line in lines), done.stdout



def test_snoop_prints_the_pipes_messages_in_bach_filtered_by_type(observed):
    done = spenefett("snoop", "2000", "net->logic", "--type", "set_position", "--count", "3",
                     "--gld", observed.gld, timeout=60)
    assert 0 == done.returncode, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert 3 == len(lines)
    for line in lines:
        tick, pipe, bach = line.split(" ", 2)
        assert int(tick) > 0 and "net->logic" == pipe
        assert bach.startswith('{objtype: "op", parents: ["set_position"]')
    metrics = observed.extra_of("gamelogic")["metrics"]
    train = spenefett("snoop", metrics, "logic->net", "--type", "avatar_state", "--count", "1")
    assert 0 == train.returncode and "avatar_state" in train.stdout
    bad = spenefett("snoop", metrics, "net->nowhere")
    assert 2 == bad.returncode and "no pipe 'net->nowhere'" in bad.stderr
    # a tap is on while a snooper reads, and off once it has gone
    with snoop_lines(metrics, "net->logic") as stream:
        assert stream.readline().startswith(b"# snooping net->logic")
        wait_until(lambda: 1 == sample(scrape(metrics), "spenefett_snoop_taps"), 10, "the tap")
        assert stream.readline()
    wait_until(lambda: 0 == sample(scrape(metrics), "spenefett_snoop_taps"), 10, "the tap to go")


def test_the_recorded_gamelogic_node_replays_identical(observed, tmp_path):
    time.sleep(max(0.0, LOAD_SECONDS - 10))  # the other tests ran under load for the rest
    observed.players.stop()
    assert not observed.players.failures[:1]
    assert observed.players.actions > 100
    observed.stop()  # SIGTERM: a clean stop, so the recording ends with the stop record
    assert 0 == observed.gamelogic_process().returncode
    meta = read_meta(observed.recording)
    assert "gamelogic" == meta.raw["role"] and 2000 == meta.node_id
    assert {"net", "transport", "agent"} == set(meta.edge)

    done = spenefett("replay", str(observed.recording), timeout=300)
    assert 0 == done.returncode, done.stdout + done.stderr
    assert "identical:" in done.stdout and "stop included" in done.stdout
    ticks = int(done.stdout.split("identical: ")[1].split()[0])
    assert ticks > 20 * LOAD_SECONDS / 2

    # cut the recording in the middle of a record: replayed up to there
    cut = tmp_path / "cut"
    shutil.copytree(observed.recording, cut)
    last = segment_paths(cut)[-1]
    data = last.read_bytes()
    last.write_bytes(data[: _inside_a_record(data, len(data) * 2 // 3)])
    done = spenefett("replay", str(cut), timeout=300)
    assert 0 == done.returncode, done.stdout
    assert "truncated after" in done.stdout and "replayed up to there" in done.stdout
    cut_ticks = int(done.stdout.split("identical: ")[1].split()[0])
    assert 0 < cut_ticks < ticks

    # stop at a tick and look at the ObjectSpaces
    done = spenefett("replay", str(observed.recording), "--until", str(ticks // 2), timeout=300)
    assert 0 == done.returncode, done.stdout
    assert f"stopped at tick {ticks // 2} as asked" in done.stdout
    assert "ObjectSpaces" in done.stdout and "Character" in done.stdout


def _inside_a_record(data: bytes, near: int) -> int:
    """A byte offset inside the msgpack record that spans ``near``, never on a boundary.

    A plain cut at two thirds landed exactly between two records about once
    in a few dozen runs, and a recording cut there is whole, not truncated.
    """
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(data) + 1)
    unpacker.feed(data)
    start = 0
    for _ in unpacker:
        end = unpacker.tell()
        if end > near and end - start >= 2:
            return start + (end - start) // 2
        start = end
    raise AssertionError("no record of two bytes or more after the middle of the segment")
