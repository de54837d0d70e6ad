"""Update picking: which recent moves each observer gets this tick, near ones more often.

A view of sixty metres in a crowd holds a hundred bodies or more; sending
every move of every one of them every tick is most of a server's output
and most of a client's input. So a body's moves go to an observer every
tick when it is near, and every second or fourth tick (on the observer's
own phase) when it is farther, and on the observer's catch-up tick
(phase 0) every body it sees that moved since is sent, so a far body's
last position arrives within one cycle. The game chooses the bands.

``pick_updates`` does that for every observer at once, in one C call
(``native/picks.c``) over the (observer, seen body) pairs: no
per-observer Python and no temporary arrays of pair size.
``engine.spatial.reference.pick_updates`` is its definition.

>>> import numpy as np
>>> views = [np.array([5, 7], np.uint64), np.array([7], np.uint64)]
>>> picked, ends = pick_updates(views, np.array([[0.0, 0.0], [100.0, 0.0]]), np.array([1, 1], np.int8),
...                             moved=np.array([7], np.uint64), ages=np.zeros(1, np.int8),
...                             moved_xy=np.array([[10.0, 0.0]]), bands=(20.0,), masks=(0, 3))
>>> picked.tolist(), ends.tolist()   # the near observer gets body 7's move, the far one not this tick
([0], [1, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import native


def pick_updates(views: Sequence[np.ndarray], obs_xy: np.ndarray, phase: np.ndarray, *,
                 moved: np.ndarray, ages: np.ndarray, moved_xy: np.ndarray,
                 bands: Sequence[float], masks: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``moved`` each observer gets; observer k's are ``picked[ends[k-1]:ends[k]]``.

    ``views[k]``: the Guids observer k sees (uint64); ``obs_xy``:
    (observers, 2) positions; ``phase``: each one's place in its catch-up
    cycle (0: gets every recent move it sees).
    ``moved``: the Guids (each once) of the bodies that moved lately,
    ``ages`` ticks ago (int8), at ``moved_xy`` (x and y in the first two
    columns). ``bands``: ascending radii; ``masks``: one more than
    ``bands``, each a cycle length less one (0, 1, 3, ...): a body at least
    as far as ``bands[b - 1]`` goes when ``phase & masks[b] == 0`` and it
    moved within ``masks[b]`` ticks.
    """
    counts = np.fromiter((len(v) for v in views), np.int64, len(views))
    offsets = np.zeros(len(views) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    seen = np.concatenate(views).astype(np.uint64, copy=False) if len(views) else np.empty(0, np.uint64)
    bands2 = np.array([float(r) * float(r) for r in bands], np.float64)
    return native.pick_updates(seen, offsets, np.ascontiguousarray(obs_xy, np.float64),
                               np.ascontiguousarray(phase, np.int8), moved, ages,
                               np.ascontiguousarray(moved_xy, np.float64), bands2, np.array(masks, np.int8))
