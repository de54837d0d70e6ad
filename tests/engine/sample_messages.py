"""Message classes shared by the engine tests (type ids 900..949)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from engine.guid import MAX_GUID, Guid
from engine.messages import Message


class TMove(Message, type_id=900):
    x: float
    y: float
    z: float


class TTalk(Message, type_id=901):
    text: str
    volume: int = 5


class TSight(Message, type_id=902):
    what: TMove
    seen_by: list[Guid]


class TBlob(Message, type_id=903):
    data: bytes
    tags: list[str]
    props: dict
    anything: Any = None


class TOp(Message):
    """Abstract: an Atlas-style operation with serial numbers."""

    serialno: int
    refno: int


class TLook(TOp, type_id=904):
    target: Guid


class TEnvelope(Message, type_id=905):
    args: list[Message]
    note: str | None = None


guids = st.integers(0, MAX_GUID)
finite = st.floats(allow_nan=False)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | finite | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
moves = st.builds(TMove, guids, guids, finite, finite, finite)
talks = st.builds(TTalk, guids, guids, st.text(), st.integers(-(2**63), 2**63 - 1))
sights = st.builds(TSight, guids, guids, moves, st.lists(guids, max_size=5))
blobs = st.builds(TBlob, guids, guids, st.binary(), st.lists(st.text(max_size=8), max_size=4),
                  st.dictionaries(st.text(max_size=5), values, max_size=4), values)
looks = st.builds(TLook, guids, guids, st.integers(0, 2**32), st.integers(0, 2**32), guids)
leaf_messages = st.one_of(moves, talks, sights, blobs, looks)
envelopes = st.builds(TEnvelope, guids, guids, st.lists(leaf_messages, max_size=3),
                      st.none() | st.text(max_size=10))
messages = st.one_of(leaf_messages, envelopes)


