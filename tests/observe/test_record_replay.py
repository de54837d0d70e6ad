"""Record a node with a real network module and a client on loopback, then replay it.

The node's only game module is a test rule that answers a client's ChatSay
with the time: the engine's clock (recorded, so replay is exact) or, in the
broken variant, the wall clock through ``time.time()``, which replay must
catch at the tick the rule read it.
"""

import os
import threading
import time

import msgpack
import pytest

from engine.control import ChatHeard, ChatSay
from engine.dispatch import handles
from engine.modules import Module
from engine.modules.network_messages import ClientConnected, Welcome
from engine.pipes.recorder import segment_paths
from engine.stack import build_engine, load_stack
from nodes.headless import LinkSession
from nodes.kinds import filter_kinds, module_kinds
from nodes.recording import start_recording
from nodes.replay import replay, run_replay

TICKS = 120


class WallClockRule(Module):
    """Says the tick to every client each tick; answers "what time" with a clock reading."""

    kind = "wall_clock_rule"

    def start(self):
        self.conns = []
        self.answered_at = []
        self.heard = 0
        self.wall = bool(self.settings.get("wall_clock", False))

    @handles(ClientConnected)
    def on_connected(self, msg):
        self.conns.append(msg.conn)

    @handles(ChatSay)
    def on_say(self, msg):
        now = time.time() if self.wall else self.engine.clock.now()  # the rule under test
        self.answered_at.append(self.now_tick)
        for conn in self.conns:
            self.send(ChatHeard(conn, self.guid, "time", "rule", f"{now!r} ({msg.text})"))

    def tick(self):
        for conn in self.conns:
            self.send(ChatHeard(conn, self.guid, "tick", "rule", f"tick {self.now_tick}"))


KINDS = {**module_kinds(), WallClockRule.kind: WallClockRule}

STACK = """
[engine]
tick_rate = 50
seed = 7
{record}
[[module]]
name = "rule"
kind = "wall_clock_rule"
[module.settings]
wall_clock = {wall}

[[module]]
name = "net"
kind = "network"
[module.settings]
port = 0
deliver_to = "rule"

[[pipe]]
from = "net"
to = "rule"

[[pipe]]
from = "rule"
to = "net"
"""


def run_recorded_node(tmp_path, *, wall=False, record_table="", before_start=None):
    """Run the node for TICKS ticks with one client saying "what time" three times."""
    stack = tmp_path / "stack.toml"
    stack.write_text(STACK.format(wall=str(wall).lower(), record=record_table))
    spec = load_stack(stack, module_kinds=KINDS, filter_kinds=filter_kinds())
    engine = build_engine(spec, 2001, module_kinds=KINDS, filter_kinds=filter_kinds())
    directory = tmp_path / "rec"
    recorder = start_recording(engine, spec, "test", directory)
    if before_start is not None:
        before_start(directory)
    engine.start()
    recorder.started()
    runner = threading.Thread(target=engine.run, kwargs={"ticks": TICKS})
    runner.start()
    client = LinkSession(f"127.0.0.1:{engine.module('net').port}", token="t")
    heard = []
    try:
        assert client.wait_for((Welcome,), timeout=10) is not None
        said = 0
        while runner.is_alive():
            client.pump()
            for m in client.inbox.messages:
                if isinstance(m, ChatHeard):
                    heard.append((engine.tick, m))
            client.inbox.messages.clear()
            if said < 3 and engine.tick > 20 + 25 * said:
                client.send(ChatSay(0, 0, "talk", "me", f"what time {said}"))
                said += 1
            time.sleep(0.002)
    finally:
        runner.join()
        client.close()
        recorder.close()
    return engine, recorder, heard


def test_a_node_replays_identical_with_its_clock_readings(tmp_path):
    engine, recorder, heard = run_recorded_node(tmp_path)
    rule = engine.module("rule")
    assert 3 == len(rule.answered_at)
    assert [m.channel for _, m in heard].count("time") == 3
    result, replayed = replay(recorder.directory, extra_kinds={WallClockRule.kind: WallClockRule})
    assert result.identical, result.summary()
    assert TICKS == result.ticks and result.stopped
    assert rule.answered_at == replayed.module("rule").answered_at


def test_reading_the_wall_clock_in_a_rule_is_caught_at_that_tick(tmp_path):
    engine, recorder, _ = run_recorded_node(tmp_path, wall=True)
    first_read = engine.module("rule").answered_at[0]
    result, _ = replay(recorder.directory, extra_kinds={WallClockRule.kind: WallClockRule})
    assert not result.identical
    d = result.divergence
    assert first_read == d.tick
    assert "a different message" == d.reason and "rule->net" == d.recorded[0]
    report = d.report()
    assert f"differs at tick {first_read}" in report
    assert 'recorded: rule->net {objtype: "op", parents: ["chat_heard"]' in report
    text_row = next(line for line in report.splitlines() if line.split()[:2] == ["*", "text"])
    assert "(what time 0)" in text_row
    assert not any(line.split()[:2] == ["*", "channel"] for line in report.splitlines())


def test_the_command_exits_2_on_a_directory_that_is_no_recording(tmp_path, capsys):
    assert 2 == run_replay(str(tmp_path))
    assert "not a recording (no meta.json)" in capsys.readouterr().out
    (tmp_path / "meta.json").write_text("{not json")
    assert 2 == run_replay(str(tmp_path))
    assert "unreadable" in capsys.readouterr().out


def test_a_corrupt_record_ends_the_replay_there_and_says_where(tmp_path):
    engine, recorder, _ = run_recorded_node(tmp_path)
    segment = segment_paths(recorder.directory)[0]
    data = bytearray(segment.read_bytes())
    unpacker = msgpack.Unpacker()
    unpacker.feed(bytes(data))
    ends = [unpacker.tell() for _ in unpacker]
    data[ends[len(ends) // 2] - 1] ^= 0xFF  # the last byte of a record in the middle: its payload
    segment.write_bytes(bytes(data))
    result, _ = replay(recorder.directory, extra_kinds={WallClockRule.kind: WallClockRule})
    assert result.identical, result.summary()
    assert len(ends) // 2 - 1 == result.ticks and not result.stopped  # record 0 is the start
    assert "checksum does not match" in result.end.reason
    assert "replayed up to there" in result.summary()


def test_past_max_bytes_recording_stops_and_the_node_keeps_serving(tmp_path, caplog):
    engine, recorder, heard = run_recorded_node(tmp_path, record_table="[record]\nmax_bytes = 3000\n")
    assert recorder.stopped is not None and "max_bytes reached" in recorder.stopped
    assert any("stopped: max_bytes reached" in r.getMessage() and "keeps serving" in r.getMessage()
               for r in caplog.records)
    assert sum(p.stat().st_size for p in segment_paths(recorder.directory)) <= 3000
    assert TICKS == engine.tick
    # the client went on hearing the node after the recording stopped
    recorded = recorder.ticks_recorded
    assert recorded < TICKS - 10
    assert any(tick > recorded + 5 for tick, _ in heard)
    assert [m.channel for _, m in heard].count("time") == 3
    result, _ = replay(recorder.directory, extra_kinds={WallClockRule.kind: WallClockRule})
    assert result.identical and result.ticks == recorded and not result.stopped


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_stops_recording_and_the_node_keeps_serving(tmp_path):
    def disk_is_full(directory):  # the first segment is the kernel's always-full device
        os.symlink("/dev/full", directory / "seg-000000.rec")

    engine, recorder, heard = run_recorded_node(tmp_path, before_start=disk_is_full)
    assert recorder.stopped is not None and "No space left on device" in recorder.stopped
    assert not recorder.active
    assert TICKS == engine.tick
    assert [m.channel for _, m in heard].count("time") == 3
    assert any(m.channel == "tick" for _, m in heard)
