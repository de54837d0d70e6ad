"""native/codec.c against its references: the Python decoder, and msgpack.packb.

Decoding: ``decode_proven`` returns the batch's messages or None; None sends
the batch to the Python decoder, which decodes it or raises DecodeError. So
the C decoder may decline anything, but must never build a batch Python would
reject, nor build one differently.

Encoding: ``encode_batch`` returns msgpack.packb's bytes exactly, or None for
what it leaves to msgpack.
"""

from __future__ import annotations

import gc
import math

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from native._codec import encode_batch as c_encode
from sample_messages import TBlob, TLook, TMove, TSight, TTalk, leaf_messages, messages
from test_native_check import message_shaped

from engine.codec._native_check import NativeBatchChecker
from engine.codec.binary import (
    DecodeError,
    EncodeError,
    decode_batch,
    decode_batch_python,
    decode_batch_to,
    decode_frames,
    encode_batch,
    encode_frames,
)
from engine.guid import Guid, WellKnown
from engine.messages import Message
from engine.spatial import PositionUpdate


class TCount(Message, type_id=946):
    """An int field where TOwner has a Guid: the decoder's int reuse is per field position."""

    n: int


class TOwner(Message, type_id=947):
    owner: Guid

CHECKER = NativeBatchChecker()
FLAT = (TMove, TTalk, TBlob, TLook, PositionUpdate)


def _c(data: bytes, max_messages: int = 1 << 20):
    return CHECKER.decode_proven(data, max_messages)


def _python(data: bytes, max_messages: int = 1 << 20):
    try:
        return decode_batch_python(data, max_messages=max_messages)
    except DecodeError:
        return DecodeError


def _same(built: list, reference: list) -> None:
    """Same classes and the same values, compared through their bytes so NaN equals NaN."""
    assert [type(m) for m in built] == [type(m) for m in reference]
    assert msgpack.packb(built) == msgpack.packb(reference)


def test_the_c_codec_is_built():
    """pip install builds it; without it every batch would quietly take the slow path."""
    from engine.codec import binary

    assert binary._encode_native is c_encode


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=12))
def test_valid_batches_build_the_same_messages(batch):
    data = encode_batch(batch)
    built = _c(data)
    if all(type(m) in FLAT for m in batch):
        assert built is not None, "a valid batch of flat messages must not fall back"
    if built is not None:   # nested messages are Python's to check
        _same(built, batch)
        _same(built, decode_batch_python(data, max_messages=1 << 20))
    assert decode_batch(data, max_messages=1 << 20) == batch


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(message_shaped(), leaf_messages.map(list)), max_size=6))
def test_never_builds_what_python_rejects(batch):
    data = msgpack.packb(batch)
    built, expected = _c(data), _python(data)
    if built is not None:
        assert expected is not DecodeError, "the C decoder built a batch Python rejects"
        _same(built, expected)


@settings(max_examples=300, deadline=None)
@given(st.lists(leaf_messages, min_size=1, max_size=5), st.data())
def test_mutated_bytes(batch, data):
    raw = bytearray(encode_batch(batch))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    built, expected = _c(bytes(raw)), _python(bytes(raw))
    if built is not None:
        assert expected is not DecodeError
        _same(built, expected)


@given(st.binary(max_size=64))
def test_random_bytes_never_crash(blob):
    built = _c(blob)
    assert built is None or _python(blob) is not DecodeError


def _one(*fields) -> bytes:
    return msgpack.packb([list(fields)])


def test_what_it_declines():
    good = TMove(1, 2, 0.5, 1.0, 2.0)
    one = encode_batch([good])
    assert _c(one) == [good]
    assert _c(one + b"\x00") is None                                  # trailing bytes
    assert _c(encode_batch([good] * 3), max_messages=2) is None       # too many messages
    assert _c(b"") is None and _c(b"\xc1") is None and _c(b"\x81\x01\x02") is None
    assert _c(b"\x90") == []
    assert _c(b"\x91\x94\xcd\x03\x85\x01\x02\xa2\xff\xfe") is None    # TTalk text with bad UTF-8
    assert _c(_one(TTalk.type_id, 1, 2, "hi", 1.5)) is None             # float where an int belongs
    assert _c(_one(TMove.type_id, 1, 2, 1, 2.0, 3.0)) is None           # int where a float belongs
    assert _c(_one(TMove.type_id, 1, 2, 1.0, 2.0)) is None              # one field short
    assert _c(_one(TLook.type_id, 1, -2, 0, 0, 3)) is None              # a negative Guid
    assert _c(_one(TMove.type_id, 2**64 - 1, 2, 1.0, 2.0, 3.0)) is not None  # the largest Guid
    ext = msgpack.packb([[TBlob.type_id, 1, 2, b"", [], {}, msgpack.ExtType(5, b"x")]])
    assert _c(ext) is None and _python(ext) is not DecodeError        # Python builds the ExtType
    unhashable = b"\x91\x97\xcd\x03\x87\x01\x02\xc4\x00\x90\x81\x90\x01\xc0"   # props = {[]: 1}
    assert _c(unhashable) is None
    deep = b"\x91\x97\xcd\x03\x87\x01\x02\xc4\x00\x90\x80" + b"\x91" * 600 + b"\xc0"   # anything 600 deep
    assert _c(deep) is None
    for bad in ("not bytes", None, 5):
        with pytest.raises(TypeError):
            _c(bad)


def test_odd_but_valid_values_match_msgpack():
    float32 = b"\x91\x96\xcd\x03\x84\x01\x02\xca\x3f\xc0\x00\x00\xca\x7f\xc0\x00\x00\xcb" + b"\x00" * 8
    built = _c(float32)
    assert built is not None and built[0].x == 1.5 and math.isnan(built[0].y)
    blob = TBlob(3, 4, b"\x00\xff", ["a", "é"], {"k": [1, {"n": None}], "": -(2**63)},
                 {1: True, b"b": [2**64 - 1, 0.25]})
    data = encode_batch([blob])
    assert _c(data) == decode_batch_python(data) == [blob]
    dup = b"\x91\x97\xcd\x03\x87\x01\x02\xc4\x00\x90\x82\xa1k\x01\xa1k\x02\xc0"   # {"k": 1, "k": 2}
    assert _c(dup) == decode_batch_python(dup)
    assert _c(memoryview(data)) == _c(bytearray(data)) == [blob]


def test_messages_are_real_instances():
    built = _c(encode_batch([TMove(1, 2, 0.5, 1.0, 2.0)] * 3))
    assert all(type(m) is TMove for m in built)
    assert built[0].x == 0.5 and built[0].to == 1 and built[0].replace(x=2.0).x == 2.0
    assert hash(built[0]) == hash(TMove(1, 2, 0.5, 1.0, 2.0))


def _int(tag: int, value: int, width: int) -> bytes:
    """One msgpack int with the given tag and width, whatever msgpack would pick."""
    return bytes([tag]) + (value % (1 << (8 * width))).to_bytes(width, "big")


def _batch(*messages: list[bytes]) -> bytes:
    """A batch from messages given as lists of already-encoded items."""
    return bytes([0x90 | len(messages)]) + b"".join(bytes([0x90 | len(m)]) + b"".join(m) for m in messages)


TID_COUNT, TID_OWNER = bytes([0xcd, 0x03, 0xb2]), bytes([0xcd, 0x03, 0xb3])


def test_equal_ints_in_a_batch_share_one_object():
    """Messages of a batch to one peer mostly share to and frm: the decoder builds each once."""
    to, frm = (20 << 48) | 7, (10 << 48) | 9
    batch = [TLook(to, frm, 70_000 + i % 2, -(2**40), to) for i in range(6)]
    built = _c(encode_batch(batch))
    _same(built, batch)
    assert all(m.to is built[0].to and m.frm is built[0].frm for m in built)
    assert all(m.target is built[0].target and m.refno is built[0].refno for m in built)  # negative too
    assert [m.serialno for m in built] == [70_000, 70_001] * 3 and built[0].serialno is not built[1].serialno


def test_int_reuse_never_changes_a_value():
    """Reuse is keyed on the encoding: the same bits under another tag or width are another value."""
    one, two = _int(0xcc, 1, 1), _int(0xcc, 2, 1)
    cases = [
        [_int(0xcd, 300, 2), _int(0xce, 300, 4), _int(0xcf, 300, 8), _int(0xd1, 300, 2), b"\x05"],  # widths
        [_int(0xd0, -1, 1), _int(0xcc, 255, 1), _int(0xd3, -1, 8), _int(0xcf, 2**64 - 1, 8)],  # same bits
        [_int(0xd3, -(2**63), 8), _int(0xcf, 2**63, 8), _int(0xd2, -5, 4), _int(0xd2, -5, 4)],
        [_int(0xcd, 1000, 2), _int(0xcd, 1001, 2), _int(0xcd, 1000, 2), b"\xe0", b"\xff"],
    ]
    for values in cases:
        data = _batch(*([TID_COUNT, one, two, v] for v in values))
        built, expected = _c(data), decode_batch_python(data, max_messages=1 << 20)
        _same(built, expected)
        assert [m.n for m in built] == [m.n for m in expected]


def test_a_reused_negative_int_is_still_no_guid():
    """An int field's -1 and a Guid field's same bytes at the same position: the Guid is declined."""
    minus_one = _int(0xd0, -1, 1)
    one, two = _int(0xcc, 1, 1), _int(0xcc, 2, 1)
    assert _c(_batch([TID_COUNT, one, two, minus_one], [TID_COUNT, one, two, minus_one])) is not None
    data = _batch([TID_COUNT, one, two, minus_one], [TID_OWNER, one, two, minus_one])
    assert _c(data) is None and _python(data) is DecodeError
    positive = _int(0xd0, 5, 1)  # a Guid may come as a signed int that is not negative
    data = _batch([TID_COUNT, one, two, positive], [TID_OWNER, one, two, positive])
    _same(_c(data), decode_batch_python(data))


def test_flat_messages_are_left_out_of_the_collector():
    """Plain values cannot make a cycle; a message holding a list or dict still can."""
    built = _c(encode_batch([TMove(1, 2, 0.5, 1.0, 2.0), TTalk(1, 2, "hi", 3),
                             TBlob(1, 2, b"", ["a"], {}, None), TLook(1, 2, -3, 4, 5)]))
    assert [gc.is_tracked(m) for m in built] == [False, False, True, False]
    cycle = built[2]
    cycle.tags.append(cycle)
    del built, cycle
    assert gc.collect() >= 1


def test_only_bare_tuple_messages_are_left_out_of_the_collector():
    plain = _c(encode_batch([TMove(1, 2, 0.5, 1.0, 2.0)]))[0]
    with pytest.raises(AttributeError):  # no __dict__: nothing can be hung on it to point back
        plain.note = plain
    with pytest.raises(TypeError):  # and no class can declare a slot to do it with
        type("TNoted", (Message,), {"__slots__": ("note",), "__annotations__": {"n": "int"}}, type_id=948)

    class WithDict(tuple):  # a tuple subclass that could: the C decoder must leave it tracked
        pass

    from native._codec import decode_batch as c_decode

    tids, arity, at, schema, classes, tid_objects = CHECKER._build_table
    swapped = tuple(WithDict if c is TMove else c for c in classes)
    [odd] = c_decode(encode_batch([TMove(1, 2, 0.5, 1.0, 2.0)]), tids, arity, at, schema, swapped,
                     tid_objects, 10)
    assert type(odd) is WithDict and gc.is_tracked(odd)
    odd.me = odd
    del odd
    assert gc.collect() >= 1


def test_decode_batch_to_names_the_shared_address():
    to = (20 << 48) | 7
    same = [TMove(to, i, 0.0, 1.0, 2.0) for i in range(5)]
    assert decode_batch_to(encode_batch(same)) == (same, to)
    mixed = [*same, TMove(to + 1, 0, 0.0, 1.0, 2.0)]
    assert decode_batch_to(encode_batch(mixed)) == (mixed, None)
    assert decode_batch_to(encode_batch([])) == ([], None)
    one, two = _int(0xcc, 1, 1), _int(0xcc, 2, 1)
    widths = _batch([TID_COUNT, _int(0xcd, 300, 2), two, one], [TID_COUNT, _int(0xcf, 300, 8), two, one])
    assert decode_batch_to(widths)[1] == 300                        # one address, written two ways
    nested = [TSight(to, 1, TMove(3, 4, 0.0, 0.0, 0.0), [5]), TSight(to, 2, TMove(3, 4, 0.0, 0.0, 0.0), [])]
    assert decode_batch_to(encode_batch(nested)) == (nested, to)    # the Python decoder's answer
    with pytest.raises(DecodeError):
        decode_batch_to(b"\x91\xc1")


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, max_size=8), st.sampled_from([0, 1, (20 << 48) | 7]))
def test_decode_batch_to_agrees_with_the_messages(batch, to):
    batch = [m.replace(to=to) if i % 2 else m for i, m in enumerate(batch)]
    built, shared = decode_batch_to(encode_batch(batch), max_messages=1 << 20)
    assert built == decode_batch(encode_batch(batch), max_messages=1 << 20)
    addresses = {m.to for m in batch}
    assert shared == (addresses.pop() if len(addresses) == 1 else None)


# -- decode_frames: a read's whole frames in one call ------------------------

FRAME = 2  # the frame type byte decode_frames is asked for (the client protocol's MESSAGES)


def _frame(payload: bytes, kind: int = FRAME) -> bytes:
    return (len(payload) + 1).to_bytes(4, "big") + bytes([kind]) + payload


def _frames_reference(data: bytes, max_frame_bytes: int, max_messages: int, max_frames: int):
    """Frame by frame with the Python decoder: what a careful reader accepts before it stops."""
    out, pos = [], 0
    while len(data) - pos > 5 and len(out) < max_frames:
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4]
        if kind != FRAME or length < 2 or length > max_frame_bytes or length > len(data) - pos - 4:
            break
        try:
            out.append(decode_batch_python(data[pos + 5:pos + 4 + length], max_messages=max_messages))
        except DecodeError:
            break
        pos += 4 + length
    return out, pos


frame_items = st.one_of(
    st.lists(leaf_messages, max_size=4).map(lambda b: _frame(encode_batch(b))),
    st.lists(leaf_messages, max_size=4).map(lambda b: _frame(encode_batch(b))),
    st.lists(messages, max_size=3).map(lambda b: _frame(encode_batch(b))),     # some only Python proves
    st.lists(leaf_messages, max_size=2).map(lambda b: _frame(encode_batch(b), kind=3)),  # another type
    st.binary(max_size=8).map(_frame),
    st.binary(max_size=9),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(frame_items, max_size=6), st.integers(6, 200), st.integers(0, 5), st.integers(0, 7),
       st.none() | st.sampled_from([0, 5, (20 << 48) | 9]))
def test_decode_frames_takes_the_frames_a_careful_reader_takes_or_stops_sooner(
        items, max_frame_bytes, max_messages, max_frames, frm):
    data = b"".join(items)
    got, pos = decode_frames(data, frame_type=FRAME, max_frame_bytes=max_frame_bytes,
                             max_messages=max_messages, max_frames=max_frames, frm=frm)
    expected, expected_pos = _frames_reference(data, max_frame_bytes, max_messages, max_frames)
    if frm is not None:  # the same messages, each from `frm`
        expected = [[m.replace(frm=frm) for m in batch] for batch in expected]
    assert got == expected[:len(got)]
    ends = [0]
    for _batch in got:  # every decoded frame was whole and where the reference read it
        ends.append(ends[-1] + 4 + int.from_bytes(data[ends[-1]:ends[-1] + 4], "big"))
    assert pos == ends[-1]
    if len(got) < len(expected):  # it stopped sooner: only on a batch the C decoder declines
        length = int.from_bytes(data[pos:pos + 4], "big")
        assert CHECKER.decode_proven(data[pos + 5:pos + 4 + length], max_messages) is None
    else:
        assert pos == expected_pos


def test_decode_frames_starts_at_pos_and_stops_before_what_it_cannot_prove():
    one, two = [TMove(1, 2, 0.5, 1.0, 2.0)], [TTalk(3, 4, "hi"), TTalk(3, 4, "again")]
    good = _frame(encode_batch(one)) + _frame(encode_batch(two))
    assert decode_frames(good, frame_type=FRAME) == ([one, two], len(good))
    assert decode_frames(b"junk" + good, 4, frame_type=FRAME) == ([one, two], len(good) + 4)
    first = len(_frame(encode_batch(one)))
    for tail in (good[first:-1],                              # a partial frame
                 _frame(encode_batch(two), kind=7),            # another frame type
                 _frame(b"\xc1"),                              # bytes no decoder accepts
                 b"\x00\x00\x00\x01\x02",                       # a frame of its type byte alone
                 b"\x00\x00\x00"):                             # not even a header
        data = _frame(encode_batch(one)) + tail
        assert decode_frames(data, frame_type=FRAME) == ([one], first)
    assert decode_frames(good, frame_type=FRAME, max_frames=1) == ([one], first)
    assert decode_frames(good, frame_type=FRAME, max_messages=1) == ([one], first)
    assert len(good) - first < first  # the second frame is the smaller one
    assert decode_frames(good, frame_type=FRAME, max_frame_bytes=first - 5) == ([], 0)
    swapped = good[first:] + good[:first]
    assert decode_frames(swapped, frame_type=FRAME, max_frame_bytes=first - 5) == ([two], len(good) - first)
    assert decode_frames(swapped, frame_type=FRAME, max_frame_bytes=first - 4) == ([two, one], len(good))


def test_stamping_frm_over_a_reused_int_leaves_every_message_whole():
    """The decoder reuses the int of a repeated encoding; the stamp must not free one it still lends."""
    sender = (7 << 48) | 12345
    batch = [TMove(i, sender, 0.0, 1.0, 2.0) for i in range(50)]
    stamp = (1 << 48) | 99999
    for _ in range(20):
        got, _pos = decode_frames(_frame(encode_batch(batch)), frame_type=FRAME, frm=stamp)
        gc.collect()
        assert got == [[m.replace(frm=stamp) for m in batch]]
        assert all(m.frm is stamp for m in got[0])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(messages, max_size=5), max_size=6), st.integers(0, 5), st.integers(2, 400))
def test_encode_frames_is_each_batch_framed_or_none_where_the_caller_must(batches, max_messages, max_bytes):
    frames = encode_frames(batches, frame_type=FRAME, max_frame_bytes=max_bytes, max_messages=max_messages)
    assert len(frames) == len(batches)
    for batch, frame in zip(batches, frames, strict=True):
        payload = encode_batch(batch)
        if len(batch) > max_messages or len(payload) + 1 > max_bytes:
            assert frame is None
        else:  # the messages strategy holds only values the C encoder packs
            assert frame == _frame(payload)
            assert decode_batch(frame[5:], max_messages=1 << 20) == batch


def test_encode_frames_leaves_what_msgpack_must_judge_to_the_caller():
    good, odd = [TTalk(1, 2, "hi")], [TBlob(1, 2, b"", [], {}, {1, 2})]  # a set: msgpack refuses it
    framed = _frame(encode_batch(good), kind=5)
    assert encode_frames([good, odd, [], good], frame_type=5, max_frame_bytes=1 << 20, max_messages=10) == [
        framed, None, _frame(encode_batch([]), kind=5), framed]
    with pytest.raises(ValueError):
        encode_frames([good], frame_type=256, max_frame_bytes=1 << 20, max_messages=10)


# -- encoding ----------------------------------------------------------------

int64s = st.integers(-(2**63), 2**64 - 1)
plain = st.recursive(
    st.none() | st.booleans() | int64s | st.floats() | st.text() | st.binary(),
    lambda inner: (st.lists(inner, max_size=5) | st.lists(inner, max_size=5).map(tuple)
                   | st.dictionaries(st.text(max_size=5) | int64s, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(plain, max_size=8))
def test_encodes_plain_values_exactly_as_msgpack(batch):
    assert c_encode(batch) == msgpack.packb(batch)


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, max_size=12))
def test_encodes_messages_exactly_as_msgpack(batch):
    assert c_encode(batch) == msgpack.packb(batch)
    assert decode_batch(encode_batch(batch), max_messages=1 << 20) == batch


def test_every_width_boundary():
    edges = [0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1,
             -1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)]
    sizes = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]
    batch = [edges, ["x" * n for n in sizes], [b"y" * n for n in sizes], [[0] * n for n in (15, 16, 65536)],
             [{i: i for i in range(n)} for n in (15, 16, 65536)], [0.0, -0.0, 1e308, float("inf")], ["é€😀"]]
    assert c_encode(batch) == msgpack.packb(batch)


def test_declines_what_msgpack_should_pack_or_refuse():
    for odd in (WellKnown.TRANSPORT, bytearray(b"x"), {1, 2}, 2**64, -(2**63) - 1, "\ud800", object(),
                _nested(600)):
        assert c_encode([odd]) is None
    assert encode_batch([(1, 2, WellKnown.TRANSPORT)]) == msgpack.packb([(1, 2, WellKnown.TRANSPORT)])
    with pytest.raises(EncodeError):
        encode_batch([TBlob(1, 2, b"", [], {}, {1, 2})])
    with pytest.raises(EncodeError):
        encode_batch([TLook(1, 2, 0, 0, 2**64)])
    with pytest.raises(TypeError):
        c_encode((1, 2))


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value
