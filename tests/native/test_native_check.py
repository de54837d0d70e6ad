"""The C batch checker never accepts what the Python decoder rejects, and decodes alike."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sample_messages import TBlob, TEnvelope, TLook, TMove, TSight, TTalk, leaf_messages, messages, values

from engine.codec._native_check import NativeBatchChecker
from engine.codec.binary import DecodeError, decode_batch_python, encode_batch
from engine.spatial import PositionUpdate

CHECKER = NativeBatchChecker()
FLAT = (TMove, TTalk, TBlob, TLook, PositionUpdate)


def _outcome(decode, data):
    """Message classes and their re-encoded bytes (so NaN equals NaN), or DecodeError."""
    try:
        batch = decode(data, max_messages=1 << 20)
    except DecodeError:
        return DecodeError
    return [type(m) for m in batch], msgpack.packb(batch)


def _python(data):
    return _outcome(decode_batch_python, data)


def _fast(data):
    return _outcome(CHECKER.decode_batch, data)


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=12))
def test_valid_batches_decode_alike(batch):
    data = encode_batch(batch)
    assert batch == CHECKER.decode_batch(data, max_messages=1 << 20)
    counted = CHECKER.check(data, 1 << 20)
    if all(type(m) in FLAT for m in batch):
        assert len(batch) == counted
    else:   # nested messages are left to Python (an empty list[Message] is provably fine)
        assert counted in (None, len(batch))


field_values = st.one_of(values, st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False), st.booleans(),
                         st.lists(st.integers(-5, 2**64 - 1), max_size=3), st.none())


@st.composite
def message_shaped(draw):
    """Arrays that look like messages: a known (or unknown) type id and arbitrary fields."""
    cls = draw(st.sampled_from([TMove, TTalk, TBlob, TLook, TSight, TEnvelope, PositionUpdate]))
    arity = len(cls.fields) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    tid = draw(st.sampled_from([cls.type_id, cls.type_id, 9999, -1, True, 100.0]))
    good = list(draw(leaf_messages))[1:] if draw(st.booleans()) else []
    fields = [good[i] if i < len(good) and draw(st.booleans()) else draw(field_values)
              for i in range(max(0, arity))]
    return [tid, *fields]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(message_shaped(), leaf_messages.map(list)), max_size=6))
def test_checker_is_sound_on_arbitrary_message_shaped_arrays(batch):
    data = msgpack.packb(batch)
    expected = _python(data)
    if CHECKER.check(data, 1 << 20) is not None:
        assert expected is not DecodeError, "the C checker accepted a batch Python rejects"
    assert expected == _fast(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(leaf_messages, min_size=1, max_size=5), st.data())
def test_mutated_bytes_decode_alike(batch, data):
    raw = bytearray(encode_batch(batch))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    assert _python(bytes(raw)) == _fast(bytes(raw))


@given(st.binary(max_size=64))
def test_random_bytes_never_crash(blob):
    assert _python(blob) == _fast(blob)


def test_limits_and_odd_inputs():
    one = encode_batch([TMove(1, 2, 0.5, 1.0, 2.0)])
    assert CHECKER.check(one + b"\x00") is None          # trailing bytes
    assert CHECKER.check(encode_batch([TMove(1, 2, 0.5, 1.0, 2.0)] * 3), max_messages=2) is None
    assert CHECKER.check(b"") is None
    assert 0 == CHECKER.check(b"\x90")
    deep = b"\x91\x94\xcd\x03\x87\x01\x02" + b"\x91" * 600 + b"\xc0"   # TTalk.text nested 600 deep
    assert CHECKER.check(deep) is None
    with pytest.raises(DecodeError):
        CHECKER.decode_batch(b"\x91\x94\xcd\x03\x85\x01\x02\xa2\xff\xfe")   # str with bad UTF-8
    with pytest.raises(TypeError):
        CHECKER.check("not bytes")


def test_guid_fields_refuse_negative_ints():
    good = [TLook.type_id, 1, 2, 3, 4, 5]
    assert 1 == CHECKER.check(msgpack.packb([good]))
    for i in (1, 2, 5):
        bad = list(good)
        bad[i] = -1
        assert CHECKER.check(msgpack.packb([bad])) is None
