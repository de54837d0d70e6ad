import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sample_messages import TMove, TTalk

from engine.pipes import (
    AllowTypes,
    Delay,
    DelayAll,
    DropTypes,
    Pipe,
    PipeFullError,
    Predicate,
    Recorder,
    RecordingError,
    read_recording,
)


@given(st.lists(st.lists(st.integers(), max_size=10), max_size=10))
def test_drains_return_everything_pushed_in_fifo_order(rounds):
    pipe = Pipe("a", "b")
    everything, got = [], []
    for tick, items in enumerate(rounds):
        for item in items:
            pipe.push(item)
        everything.extend(items)
        got.extend(pipe.drain(tick))
    assert everything == got
    stats = pipe.stats()
    assert (len(everything), len(everything), 0) == (stats.sent, stats.delivered, stats.depth)


def test_a_full_pipe_raises_at_the_push_and_keeps_what_it_had():
    pipe = Pipe("a", "b", bound=2)
    pipe.push(1)
    pipe.push(2)
    with pytest.raises(PipeFullError, match="a->b is full"):
        pipe.push(3)
    assert [1, 2] == pipe.drain(0)
    pipe.push(3)  # room again after a drain
    assert [3] == pipe.drain(1)


def test_drop_and_allow_filters():
    pipe = Pipe("a", "b", filters=[DropTypes([TTalk])])
    pipe.push(TTalk(1, 2, "x"))
    pipe.push(TMove(1, 2, 0.0, 0.0, 0.0))
    assert [TMove] == [type(m) for m in pipe.drain(0)]
    assert 1 == pipe.stats().dropped
    only_talk = Pipe("a", "b", filters=[AllowTypes([TTalk])])
    only_talk.push(TMove(1, 2, 0.0, 0.0, 0.0))
    assert [] == only_talk.drain(0)


def test_a_filter_may_rewrite_the_message():
    stamp = Pipe("net", "logic", filters=[lambda m: m.replace(frm=99)])
    stamp.push(TTalk(1, 2, "hi"))
    assert 99 == stamp.drain(0)[0].frm


def test_delay_holds_messages_for_n_ticks_and_keeps_order():
    tick = [0]
    pipe = Pipe("a", "b", filters=[DelayAll(2)], now=lambda: tick[0])
    pipe.push("first")
    pipe.push("second")
    assert [] == pipe.drain(0)
    assert [] == pipe.drain(1)
    assert ["first", "second"] == pipe.drain(2)
    s = pipe.stats()
    assert (2, 2, 2, 0) == (s.sent, s.delayed, s.delivered, s.depth)


def test_delayed_messages_arrive_before_later_immediate_ones():
    tick = [0]
    slow_pings = Predicate(lambda m: True)
    pipe = Pipe("a", "b", filters=[slow_pings, lambda m: Delay(1, m) if m == "slow" else m],
                now=lambda: tick[0])
    pipe.push("slow")
    tick[0] = 1
    pipe.push("fast")
    assert ["slow", "fast"] == pipe.drain(1)


def _filtered_pipe(bound: int, tick: list[int]) -> Pipe:
    """Drops multiples of 3, holds multiples of 5 for a tick, rewrites odd numbers."""
    return Pipe("a", "b", bound=bound, now=lambda: tick[0], filters=[
        lambda m: None if m % 3 == 0 else m,
        lambda m: Delay(1, m) if m % 5 == 0 else m,
        lambda m: -m if m % 2 else m])


class _Batchable:
    """A filter that also decides whole lists (``filter_many``), as the client filter does."""

    def __init__(self, decide):
        self.decide = decide
        self.calls = 0

    def __call__(self, message):
        return self.decide(message)

    def filter_many(self, messages):
        self.calls += 1
        return [r for m in messages if (r := self.decide(m)) is not None]


def _batch_filtered_pipe(bound: int, tick: list[int]) -> Pipe:
    """Drops multiples of 3, rewrites odd numbers; both filters decide whole lists."""
    return Pipe("a", "b", bound=bound, now=lambda: tick[0], filters=[
        _Batchable(lambda m: None if m % 3 == 0 else m),
        _Batchable(lambda m: -m if m % 2 else m)])


@pytest.mark.parametrize("build", [_filtered_pipe, _batch_filtered_pipe], ids=["per-message", "batch"])
@given(rounds=st.lists(st.lists(st.integers(1, 60), max_size=12), max_size=6), bound=st.integers(1, 20))
def test_push_many_through_filters_is_pushing_one_at_a_time(build, rounds, bound):
    """The same delivered, dropped, delayed and refused, batch by batch as message by message."""
    tick = [0]
    one, many = build(bound, tick), build(bound, tick)
    for t, batch in enumerate(rounds):
        tick[0] = t
        refused_one = refused_many = None
        try:
            for m in batch:
                one.push(m)
        except PipeFullError as exc:
            refused_one = str(exc)
        try:
            many.push_many(batch)
        except PipeFullError as exc:
            refused_many = str(exc)
        assert refused_one == refused_many
        assert one.drain(t) == many.drain(t)
    s1, s2 = one.stats(), many.stats()
    assert (s1.sent, s1.dropped, s1.delayed, s1.delivered) == (s2.sent, s2.dropped, s2.delayed, s2.delivered)


def test_a_push_that_fits_is_filtered_in_one_call_per_batch_filter():
    pipe = _batch_filtered_pipe(100, [0])
    pipe.push_many(list(range(1, 11)))
    assert [f.calls for f in pipe._filters] == [1, 1]
    assert [-1, 2, 4, -5, -7, 8, 10] == pipe.drain(0)
    assert 3 == pipe.stats().dropped


def test_stats_track_depth_and_peak():
    pipe = Pipe("a", "b")
    for i in range(5):
        pipe.push(i)
    assert (5, 5) == (pipe.stats().depth, pipe.stats().peak_depth)
    pipe.drain(0)
    pipe.push(1)
    s = pipe.stats()
    assert (1, 5, 6, 5) == (s.depth, s.peak_depth, s.sent, s.delivered)


def test_recorder_writes_tick_pipe_and_message_and_reads_back():
    buf = io.BytesIO()
    recorder = Recorder(buf)
    pipe = Pipe("net", "logic")
    recorder.attach(pipe)
    pipe.push(TTalk(1, 2, "a"))
    pipe.drain(4)
    pipe.push(TMove(3, 4, 1.0, 2.0, 3.0))
    pipe.push(TTalk(5, 6, "b"))
    pipe.drain(5)
    records = list(read_recording(io.BytesIO(buf.getvalue())))
    assert [(4, "net->logic"), (5, "net->logic"), (5, "net->logic")] == [(r.tick, r.pipe) for r in records]
    assert [TTalk(1, 2, "a"), TMove(3, 4, 1.0, 2.0, 3.0), TTalk(5, 6, "b")] == [r.message for r in records]


def test_a_truncated_recording_reads_up_to_the_last_whole_record():
    buf = io.BytesIO()
    recorder = Recorder(buf)
    pipe = Pipe("a", "b")
    recorder.attach(pipe)
    for i in range(3):
        pipe.push(TTalk(1, 2, f"m{i}"))
    pipe.drain(0)
    data = buf.getvalue()
    cut = data[:-3]
    assert 2 == len(list(read_recording(io.BytesIO(cut))))
    with pytest.raises(RecordingError) as info:
        list(read_recording(io.BytesIO(cut), strict=True))
    assert 2 == info.value.records_read


def test_a_corrupt_recording_raises_naming_the_record():
    with pytest.raises(RecordingError, match="record 0"):
        list(read_recording(io.BytesIO(b"\x93\x01\xa1a\x93\xcd\x2f\x2f\x01\x02")))
