import math

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sample_messages import TEnvelope, TLook, TMove, TSight, TTalk, messages

from engine.codec import DecodeError, EncodeError, decode, decode_batch, encode, encode_batch
from engine.messages import Message


def _same(a, b):
    """Equality that treats NaN as equal to itself (floats inside Any fields)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


@given(messages)
def test_one_message_round_trips(m):
    back = decode(encode(m))
    assert type(back) is type(m)
    assert _same(list(back), list(m))


@given(st.lists(messages, max_size=20))
def test_a_batch_round_trips_in_order(batch):
    back = decode_batch(encode_batch(batch))
    assert [type(m) for m in back] == [type(m) for m in batch]
    assert _same([list(m) for m in back], [list(m) for m in batch])


def test_wire_form_is_the_documented_array():
    m = TTalk(7, 8, "hi", 3)
    assert msgpack.unpackb(encode(m)) == [901, 7, 8, "hi", 3]
    assert msgpack.unpackb(encode_batch([m, m])) == [[901, 7, 8, "hi", 3]] * 2


def test_nested_message_comes_back_as_its_class():
    s = TSight(1, 2, TMove(3, 4, 0.5, 3.4, 9.7), [9])
    back = decode(encode(s))
    assert type(back.what) is TMove
    assert back == s
    env = decode(encode(TEnvelope(1, 2, [s, TLook(1, 2, 3, 4, 5)])))
    assert [type(a) for a in env.args] == [TSight, TLook]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([[12345, 1, 2]], "unknown type id 12345"),
        ([[901, 1, 2, "hi"]], "wrong arity"),
        ([[901, 1, 2, "hi", 3, 4]], "wrong arity"),
        ([[901, 1, 2, 5, 3]], "field 'text' wants str, got int"),
        ([[900, 1, 2, 1, 2.0, 3.0]], "field 'x' wants float"),
        ([[900, -1, 2, 1.0, 2.0, 3.0]], "field 'to' wants guid"),
        ([[902, 1, 2, [901, 1, 2, "x", 1], []]], "wants a TMove, got TTalk"),
        ([[902, 1, 2, [900, 1, 2, 1.0, 2.0, 3.0], ["nope"]]], r"seen_by\[0\]"),
        ([[905, 1, 2, [[4444, 1, 2]], None]], "unknown type id 4444"),
        ([5], "message 0: expected a non-empty array, got int"),
        ([[]], "expected a non-empty array"),
        ({"a": 1}, "a batch must be an array"),
        ([[1.5, 1, 2]], "unknown type id 1.5"),
        ([[True, 1, 2]], "unknown type id True"),
    ],
)
def test_bad_messages_name_the_problem(value, problem):
    with pytest.raises(DecodeError, match=problem):
        decode_batch(msgpack.packb(value))


def test_the_bad_message_is_named_by_position():
    good = [901, 1, 2, "a", 1]
    with pytest.raises(DecodeError, match="message 2 "):
        decode_batch(msgpack.packb([good, good, [901, 1, 2, 9, 1]]))


def test_oversize_is_refused_before_parsing():
    with pytest.raises(DecodeError, match="oversize"):
        decode_batch(b"\x90" * 101, max_bytes=100)
    with pytest.raises(DecodeError, match="oversize: batch of 3"):
        decode_batch(encode_batch([TTalk(1, 2, "a")] * 3), max_messages=2)


def test_unencodable_values_raise_encode_error():
    with pytest.raises(EncodeError):
        encode(TTalk(1, 2, {1, 2}))  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        encode_batch([TTalk(1, 2, "ok"), TMove(1, 2, object(), 0.0, 0.0)])  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_bytes_decode_only_to_messages_or_decode_error(data):
    try:
        out = decode_batch(data)
    except DecodeError:
        return
    assert all(isinstance(m, Message) for m in out)


@settings(max_examples=300)
@given(st.lists(messages, min_size=1, max_size=5), st.data())
def test_mutated_valid_batches_decode_or_raise_decode_error(batch, data):
    raw = bytearray(encode_batch(batch))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        try:
            out = decode_batch(candidate)
        except DecodeError:
            continue
        assert all(isinstance(m, Message) for m in out)


def test_deep_nesting_is_a_decode_error():
    depth = 5000
    one_level = b"\x95\xcd\x03\x89\x01\x02\x91"  # [905, 1, 2, [ ...
    innermost = b"\x95\xcd\x03\x89\x01\x02\x90\xc0"  # [905, 1, 2, [], None]
    data = b"\x91" + one_level * depth + innermost + b"\xc0" * depth
    with pytest.raises(DecodeError):
        decode_batch(data)
