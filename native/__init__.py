"""Spenefett's native C core, compiled by ``pip install`` through cffi.

(One file is not cffi: ``codec.c``, the message batch codec, builds Python
objects and is a CPython extension, ``native._codec``; ``engine.codec`` uses
it. See docs/design.md.)

The C sources live beside this file (``spenefett.h`` declares everything);
``native/_build.py`` is the cffi build script and ``native/_binding.py`` the
only module that touches ``ffi``/``lib``. Engine code uses the typed
functions re-exported here, or better the faces in :mod:`engine.spatial`::

    import numpy as np
    from native import find_nonfinite
    find_nonfinite(np.zeros((4, 3), np.float32), None)   # -> -1
"""

from native._binding import (
    CapacityError,
    NonFiniteError,
    aoi_update,
    baseline_move,
    check_batch,
    find_nonfinite,
    move,
    pack_updates,
    pick_updates,
    view_diffs,
)

__all__ = [
    "CapacityError",
    "NonFiniteError",
    "aoi_update",
    "baseline_move",
    "check_batch",
    "find_nonfinite",
    "move",
    "pack_updates",
    "pick_updates",
    "view_diffs",
]
