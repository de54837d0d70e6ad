"""``spenefett node ROLE --record DIR``: the node-side wiring of a recording.

The stack file may carry a ``[record]`` table with the limits (the command
line only says where)::

    [record]
    max_bytes = 1073741824      # stop recording past this many bytes in total (1 GiB)
    segment_bytes = 67108864    # start a new segment file every 64 MiB

The recorder itself is :class:`engine.recording.NodeRecorder`; this module
picks the edge modules (by kind, :data:`engine.recording.EDGE_KINDS`) and
writes what a replay needs to rebuild the node: role, the stack file's
text and every module's settings as the runner filled them in.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

from engine.engine import Engine
from engine.recording import EDGE_KINDS, NodeRecorder
from engine.stack import StackSpec

_RECORD_KEYS = {"max_bytes", "segment_bytes"}


class RecordConfigError(ValueError):
    """A bad ``[record]`` table or recording directory."""


def record_limits(spec: StackSpec) -> dict[str, int]:
    """``max_bytes`` and ``segment_bytes`` from the stack's ``[record]`` table (defaults otherwise)."""
    table = spec.extra.get("record", {})
    if not isinstance(table, dict):
        raise RecordConfigError(f"{spec.source}: [record] must be a table")
    out = {"max_bytes": 1 << 30, "segment_bytes": 64 << 20}
    for key, value in table.items():
        if key not in _RECORD_KEYS:
            raise RecordConfigError(f"{spec.source}: record.{key}: unknown key "
                                    f"(allowed: {', '.join(sorted(_RECORD_KEYS))})")
        if type(value) is not int or value < 1:
            raise RecordConfigError(f"{spec.source}: record.{key}: must be a positive integer of "
                                    f"bytes, got {value!r}")
        out[key] = value
    return out


HASH_SEED_ENV = "PYTHONHASHSEED"


def pin_hash_seed(argv: list[str], recorded: str | None = None) -> None:
    """Re-run this command under a fixed string-hash seed, unless it already has the right one.

    Iterating a set of strings follows their hashes, which Python salts per
    process; a recorded node and its replay must share the salt. A recording
    node picks one (or keeps the one it was given) and writes it in the
    recording; ``spenefett replay`` re-runs itself with it. ``recorded``
    None: any fixed seed will do.
    """
    current = os.environ.get(HASH_SEED_ENV)
    if current is not None and current != "random" and (recorded is None or current == recorded):
        return
    seed = recorded if recorded is not None else str(secrets.randbelow(4294967295) + 1)
    os.environ[HASH_SEED_ENV] = seed
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "nodes.cli", *argv])


def recording_families(recorder: NodeRecorder) -> list[Any]:
    """The recorder's metrics (engine thread: NodeMetrics calls this while snapshotting)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    status = recorder.status()
    return [
        GaugeMetricFamily("spenefett_recording_active", "1 while the node records its inputs.",
                          value=1 if status["active"] else 0),
        CounterMetricFamily("spenefett_recording_bytes", "Bytes of recording written.",
                            value=status["bytes"]),
        CounterMetricFamily("spenefett_recording_ticks", "Ticks recorded.", value=status["ticks"]),
        CounterMetricFamily("spenefett_recording_seconds", "CPU time the recorder spent packing "
                            "and writing records, at tick ends.", value=status["seconds"]),
    ]


def start_recording(engine: Engine, spec: StackSpec, role: str, directory: str | Path,
                    *, limits: dict[str, int] | None = None) -> NodeRecorder:
    """Attach a recorder to a built (not yet started) engine; call ``started()`` after start."""
    limits = limits if limits is not None else record_limits(spec)
    edge = {m.name for m in spec.modules if m.kind in EDGE_KINDS}
    try:
        stack_text = Path(spec.source).read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordConfigError(f"cannot read the stack file {spec.source} to record it: {exc}") from None
    meta: dict[str, Any] = {
        "role": role,
        "hash_seed": os.environ.get(HASH_SEED_ENV),
        "stack_source": spec.source,
        "stack": stack_text,
        "settings": {m.name: m.settings for m in spec.modules},
        "limits": limits,
    }
    try:
        return NodeRecorder(engine, directory, edge=edge, meta=meta, **limits)
    except (OSError, ValueError) as exc:
        raise RecordConfigError(f"cannot record to {directory}: {exc}") from None
