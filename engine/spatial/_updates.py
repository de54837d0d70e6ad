"""Position updates: the message, and packing every client's frame in one C call.

A client's frame is a msgpack batch (see :mod:`engine.codec.binary`) of
:class:`PositionUpdate` messages, one per entity it sees::

    [[100, to, frm, x, y, z], ...]   to = the observer, frm = the entity

with x, y, z as msgpack float64 and the Guids in msgpack's smallest
unsigned form: byte for byte what ``encode_batch`` writes for the same
messages, so ``decode_batch(frames.frame(j))`` gives them back and the
network layer ships the slices as they are.

>>> from engine.codec.binary import decode_batch
>>> from engine.spatial import InterestGrid, SpatialTable, WorldConfig
>>> table = SpatialTable(WorldConfig(view_radii=(50,)))
>>> table.add(1, (0, 0, 0), view_class=0); table.add(2, (3, 4, 0))
>>> _ = table.begin_tick()
>>> aoi = InterestGrid(table.config); _ = aoi.update(table)
>>> frames = UpdatePacker().pack(table, aoi)
>>> decode_batch(frames.frame(0))
[PositionUpdate(to=0:0:1, frm=0:0:2, x=3.0, y=4.0, z=0.0)]
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import numpy as np

import native
from engine.guid import Guid, format_guid
from engine.messages import Message
from engine.spatial._aoi import InterestGrid, NonFiniteError
from engine.spatial._table import SpatialTable

_MAX_HEADER = 5
_MAX_UPDATE = 55  # fixarray + type id + two uint64 Guids + three float64


class PositionUpdate(Message, type_id=100):
    """Where entity ``frm`` is now, sent to observer ``to`` (world units)."""

    x: float
    y: float
    z: float


@attrs.frozen(slots=True)
class Frames:
    """Every client's frame in one buffer: ``buffer[bounds[j]:bounds[j+1]]``.

    ``clients`` holds the observer slots, in frame order. The buffer is
    reused by the packer's next ``pack``; copy a frame to keep it longer.
    """

    buffer: np.ndarray
    bounds: np.ndarray
    clients: np.ndarray

    def __len__(self) -> int:
        return int(self.clients.shape[0])

    def frame(self, j: int) -> memoryview:
        """Client j's msgpack batch (no copy)."""
        return memoryview(self.buffer)[int(self.bounds[j]): int(self.bounds[j + 1])]

    def __iter__(self) -> Iterator[memoryview]:
        return (self.frame(j) for j in range(len(self)))

    @property
    def nbytes(self) -> int:
        return int(self.bounds[-1])


class UpdatePacker:
    """Owns the output buffer, grown as needed and reused tick after tick."""

    def __init__(self, type_id: int = PositionUpdate.type_id):
        self.type_id = type_id
        self._out = np.zeros(1 << 16, np.uint8)

    def pack(self, table: SpatialTable, aoi: InterestGrid, clients: np.ndarray | None = None) -> Frames:
        """Pack the current view of each client slot (default: every observer)."""
        if clients is None:
            clients = table.observers()
        clients = np.ascontiguousarray(clients, np.int32)
        off, ents = aoi.csr()
        rows = aoi.rows
        if clients.size and (clients.min() < 0 or clients.max() >= rows):
            raise IndexError(f"client slots must lie in 0..{rows - 1} (the AOI's rows)")
        pairs = int((off[clients + 1] - off[clients]).sum()) if clients.size else 0
        need = _MAX_HEADER * clients.size + _MAX_UPDATE * pairs
        if self._out.shape[0] < need:
            self._out = np.zeros(need + need // 4, np.uint8)
        bounds = np.zeros(clients.size + 1, np.int64)
        try:
            native.pack_updates(clients, off, ents, rows, table.guids, table.pos, table.n,
                                self.type_id, self._out, bounds)
        except native.NonFiniteError as exc:
            i = exc.index
            raise NonFiniteError(f"entity {format_guid(int(table.guids[i]))} (slot {i}) has a "
                                 f"non-finite position {table.pos[i].tolist()}", i) from None
        return Frames(self._out, bounds, clients)


def position_updates(to: Guid, entities: list[tuple[Guid, float, float, float]]) -> list[PositionUpdate]:
    """The messages one frame holds, built in Python (what the C packer encodes)."""
    return [PositionUpdate(to, g, x, y, z) for g, x, y, z in entities]
