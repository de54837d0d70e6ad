"""View diffs: observers' views recomputed from the AOI rows, and what came and went.

A game recomputes each observer's view every few ticks: the bodies in
its AOI row that it may see (the caller's mask: not hidden, not behind a
wall), less itself. What came into view needs a full description (a
Sight), what left a Disappear, and what stayed goes on getting moves. At a
thousand observers with a hundred bodies each, doing that with a Python
set per observer was most of a server's tick; ``view_diffs`` does every
observer's in one C call (``native/views.c``), with the views as sorted
Guid arrays. ``engine.spatial.reference.view_diffs`` is its definition.

>>> import numpy as np
>>> off, ents = np.array([0, 2, 4], np.int32), np.array([0, 1, 0, 1], np.int32)  # two rows, slots 0 and 1
>>> guids = np.array([70, 50], np.uint64)
>>> d = view_diffs(off, ents, np.ones(2, bool), guids, np.array([0]), [np.array([50, 60], np.uint64)])
>>> d.of(0)   # slot 0 sees slot 1 (Guid 50), which it saw; 60 has gone
([50], [], [50], [60])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import native


class ViewDiffs:
    """Every observer's new view and its changes, as concatenated sorted Guid arrays.

    Observer k's part of ``view`` is ``view[view_end[k-1]:view_end[k]]``
    (0 for k = 0), and likewise ``added`` (came into view), ``kept`` (in
    view before and now) and ``removed`` (left the view). ``seen``: per
    table slot, whether it is in some observer's view (a bool array).
    """

    __slots__ = ("view", "view_end", "added", "added_end", "kept", "kept_end", "removed", "removed_end",
                 "seen")

    def __init__(self, parts: tuple[np.ndarray, ...]):
        (self.view, self.view_end, self.added, self.added_end,
         self.kept, self.kept_end, self.removed, self.removed_end, self.seen) = parts

    def of(self, k: int) -> tuple[list[int], list[int], list[int], list[int]]:
        """Observer k's (view, added, kept, removed) as lists (for tests and tools)."""
        def part(values: np.ndarray, ends: np.ndarray) -> list[int]:
            return values[(int(ends[k - 1]) if k else 0): int(ends[k])].tolist()
        return (part(self.view, self.view_end), part(self.added, self.added_end),
                part(self.kept, self.kept_end), part(self.removed, self.removed_end))


def view_diffs(off: np.ndarray, ents: np.ndarray, may_see: np.ndarray, guids: np.ndarray,
               observers: np.ndarray, old: Sequence[np.ndarray]) -> ViewDiffs:
    """Each observer's view from the AOI rows, against its ``old`` view.

    ``off``, ``ents``: the AOI rows (``InterestGrid.csr()``: per table
    slot, the slots it may see). ``may_see``: per table slot, whether
    these observers may see the body there (bool or uint8). ``guids``:
    each slot's Guid; the slots ``may_see`` lets through must have distinct
    Guids. ``observers``: the observers' slots. ``old[k]``: observer k's
    previous view, strictly ascending uint64 Guids.
    """
    n = len(may_see)
    slot_guids = guids[:n]
    order = np.argsort(slot_guids, kind="stable")
    rank = np.empty(n, np.int32)
    rank[order] = np.arange(n, dtype=np.int32)
    old_off = np.zeros(len(old) + 1, np.int64)
    np.cumsum(np.fromiter((len(v) for v in old), np.int64, len(old)), out=old_off[1:])
    old_all = np.concatenate(old).astype(np.uint64, copy=False) if len(old) else np.empty(0, np.uint64)
    return ViewDiffs(native.view_diffs(
        np.ascontiguousarray(off, np.int32), np.ascontiguousarray(ents, np.int32),
        np.ascontiguousarray(may_see).view(np.uint8) if may_see.dtype == bool
        else np.ascontiguousarray(may_see, np.uint8),
        rank, np.ascontiguousarray(slot_guids[order], np.uint64),
        np.ascontiguousarray(observers, np.int64), old_all, old_off))
