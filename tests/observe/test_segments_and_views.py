"""The pieces without a cluster: rotating bounded segments, the top view, snoop over HTTP."""

import threading
import urllib.error
import urllib.request

import msgpack
import pytest

from engine.control import ChatHeard
from engine.engine import Engine
from engine.metrics import MetricsServer, NodeMetrics
from engine.modules import Module
from engine.observe_snoop import SnoopHub
from engine.pipes.recorder import SegmentWriter, read_segments, segment_paths
from nodes.snoop import SnoopError, snoop_lines
from nodes.top import node_row, render


def test_segments_rotate_at_segment_bytes_and_read_back_in_order(tmp_path):
    writer = SegmentWriter(tmp_path, segment_bytes=100, max_bytes=10_000)
    records = [[i, "x" * 30] for i in range(20)]
    for r in records:
        assert writer.write(msgpack.packb(r))
    writer.close()
    assert 7 == len(segment_paths(tmp_path)) == writer.segments
    assert all(p.stat().st_size <= 100 for p in segment_paths(tmp_path))
    end = []
    assert records == list(read_segments(tmp_path, end))
    assert end[0].reason is None and 20 == end[0].records


def test_a_missing_segment_ends_the_reading_before_it(tmp_path):
    writer = SegmentWriter(tmp_path, segment_bytes=100)
    for i in range(20):
        writer.write(msgpack.packb([i, "x" * 30]))
    writer.close()
    segment_paths(tmp_path)[2].unlink()
    end = []
    got = list(read_segments(tmp_path, end))
    assert [r[0] for r in got] == list(range(len(got))) and 0 < len(got) < 20
    assert "segment seg-000002.rec is missing" == end[0].reason


def test_a_writer_past_max_bytes_refuses_everything_after(tmp_path):
    writer = SegmentWriter(tmp_path, segment_bytes=1000, max_bytes=100)
    assert writer.write(b"a" * 60)
    assert not writer.write(b"b" * 60)
    assert not writer.write(b"c")  # even what would fit: a recording with a hole is no recording
    assert "max_bytes reached" in writer.stopped
    assert 60 == sum(p.stat().st_size for p in segment_paths(tmp_path))


def _status(node_p99, depth, overruns=0, clients=0, gc_ms=0.0):
    return {"tick": 10, "overruns": overruns, "tick_ms": {"p50": 1.0, "p99": node_p99}, "tick_rate": 20.0,
            "gc": {"count": [9, 3, 1], "seconds": [0.01, 0.02, 0.1], "longest_ms": [1.0, 2.0, gc_ms]},
            "modules": [{"name": "net", "clients": clients}, {"name": "logic", "objects": 4}],
            "pipes": [{"name": "net->logic", "depth": depth, "peak_depth": depth + 1}],
            "tick_times": [{"module": "net", "p50": 0.001, "p99": 0.002}]}


def test_top_paints_the_worst_of_each_column_red_only_on_a_terminal():
    rows = [node_row([1, "gld", "a", True, {}], _status(2.0, 0)),
            node_row([2000, "gamelogic", "b", True, {}], _status(9.5, 7, overruns=1, clients=3, gc_ms=120.0)),
            node_row([10000, "ai", "c", False, {}], None)]
    coloured = render(rows, colour=True)
    assert "\x1b[31;1m   9.50\x1b[0m" in coloured          # worst p99
    assert "\x1b[31;1m   2.00" not in coloured
    assert "\x1b[31;1mnet->logic 7 (peak 8)\x1b[0m" in coloured  # deepest pipe
    assert "\x1b[31;1mDEAD\x1b[0m" in coloured
    assert "\x1b[31;1m 120.0\x1b[0m" in coloured                # a collector pause longer than a tick
    assert "\x1b[31;1m   2.0" not in coloured
    plain = render(rows, colour=False)
    assert "\x1b[" not in plain and "DEAD" in plain and "net->logic 7 (peak 8)" in plain


class _Talker(Module):
    """Sends itself two kinds of message each tick, for a pipe to snoop on."""

    def tick(self):
        self.send(ChatHeard(self.engine.module("sink").guid, self.guid, "a", "x", f"t{self.now_tick}"))
        self.send(ChatHeard(self.engine.module("sink").guid, 77, "b", "y", "other"))


@pytest.fixture
def snooped_node():
    engine = Engine(2003, tick_rate=200)
    engine.add_module(_Talker("talker"))
    engine.add_module(Module("sink"))
    engine.module("sink").unhandled = lambda m: None
    engine.connect("talker", "sink")
    hub = SnoopHub(engine)
    metrics = NodeMetrics(engine)
    metrics.extra_collectors.append(hub.families)
    server = MetricsServer(metrics, port=0, snoop=hub)
    server.start()
    stop = threading.Event()
    runner = threading.Thread(target=lambda: [engine.tick_once() or stop.wait(0.005)
                                              for _ in iter(stop.is_set, True)])
    runner.start()
    try:
        yield engine, server, hub
    finally:
        stop.set()
        runner.join()
        server.close()


def test_snoop_over_http_filters_by_guid_and_the_tap_goes_when_the_reader_does(snooped_node):
    engine, server, hub = snooped_node
    with snoop_lines(server.address, "talker->sink", guid="77") as stream:
        assert stream.readline().startswith(b"# snooping talker->sink on node 2003")
        lines = []
        while len(lines) < 3:
            line = stream.readline().decode().rstrip("\n")
            if line and not line.startswith("#"):
                lines.append(line)
        assert 1 == hub.active
    for line in lines:
        tick, pipe, bach = line.split(" ", 2)
        assert "talker->sink" == pipe and int(tick) >= 0
        assert 'frm: "0:0:77"' in bach and 'channel: "b"' in bach
    deadline = engine.tick + 2000
    while hub.active and engine.tick < deadline:
        threading.Event().wait(0.01)
    assert 0 == hub.active


def test_snoop_refuses_unknown_pipes_types_and_guids_with_the_reason(snooped_node):
    _, server, _ = snooped_node
    with pytest.raises(SnoopError, match="no pipe 'sink->talker'"):
        snoop_lines(server.address, "sink->talker")
    with pytest.raises(SnoopError, match="no message type named 'nonsense'"):
        snoop_lines(server.address, "talker->sink", type_name="nonsense")
    with pytest.raises(SnoopError, match="bad guid"):
        snoop_lines(server.address, "talker->sink", guid="1:2")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://{server.address}/elsewhere", timeout=5)  # noqa: S310
