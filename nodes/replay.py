"""``spenefett replay DIR [--until TICK]``: re-run a recorded node and check it does the same.

The node is rebuilt from the stack text and settings in ``DIR/meta.json``
with this checkout's module kinds, its edge modules replaced by replay
feeders (:mod:`engine.recording_replay`). Exit status: 0 identical, 1 a
difference (printed with both messages side by side in Bach), 2 a
recording that cannot be replayed at all.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from engine.engine import Engine
from engine.recording import RecordingError, RecordingMeta, read_meta
from engine.recording_replay import (
    FEEDER_KIND,
    ReplayClock,
    Replayer,
    ReplayFeeder,
    ReplayResult,
    describe_spaces,
    replay_spec,
)
from engine.stack import ModuleFactory, StackError, build_engine, parse_stack
from nodes.kinds import filter_kinds, module_kinds
from nodes.recording import pin_hash_seed


def rebuild(directory: str | Path, *, extra_kinds: Mapping[str, ModuleFactory] | None = None,
            ) -> tuple[Engine, RecordingMeta]:
    """The recorded node, rebuilt with feeders at its edge and a replay clock (not started).

    ``extra_kinds`` adds module kinds the node's own stack used beyond the roles' (tests).
    """
    meta = read_meta(directory)
    kinds = {**module_kinds(), **(extra_kinds or {}), FEEDER_KIND: ReplayFeeder}
    try:
        spec = parse_stack(str(meta.raw.get("stack", "")), source=f"{directory}/meta.json:stack",
                           module_kinds=kinds, filter_kinds=filter_kinds())
        spec = replay_spec(spec, meta)
        engine = build_engine(spec, meta.node_id, module_kinds=kinds, filter_kinds=filter_kinds(),
                              clock=ReplayClock(), seed=meta.seed)
    except (StackError, ValueError) as exc:
        raise RecordingError(f"cannot rebuild the recorded node: {exc}") from None
    return engine, meta


def replay(directory: str | Path, *, until: int | None = None,
           extra_kinds: Mapping[str, ModuleFactory] | None = None) -> tuple[ReplayResult, Engine]:
    """Replay a recording; returns the result and the engine as the replay left it."""
    engine, meta = rebuild(directory, extra_kinds=extra_kinds)
    try:
        result = Replayer(engine, meta, directory).run(until=until)
    except ValueError as exc:
        raise RecordingError(str(exc)) from None
    return result, engine


def run_replay(directory: str, *, until: int | None = None, out: TextIO | None = None,
               argv: list[str] | None = None) -> int:
    """The command: print the result; ``argv`` lets it re-run itself under the recorded hash seed."""
    out = out or sys.stdout
    if argv is not None:
        try:
            seed = read_meta(directory).raw.get("hash_seed")
        except RecordingError as exc:
            print(f"spenefett replay: {exc}", file=out)
            return 2
        if seed:
            pin_hash_seed(argv, str(seed))
    started = time.perf_counter()
    try:
        result, engine = replay(directory, until=until)
    except RecordingError as exc:
        print(f"spenefett replay: {exc}", file=out)
        return 2
    elapsed = time.perf_counter() - started
    meta = read_meta(directory)
    role = meta.raw.get("role", "node")
    print(f"replayed {role} node {meta.node_id}: {result.ticks} ticks in {elapsed:.2f} s "
          f"({result.ticks / elapsed if elapsed else 0:.0f} ticks/s; the node ran at {meta.tick_rate:g})",
          file=out)
    print(result.summary(), file=out)
    if until is not None:
        print(describe_spaces(engine), file=out)
    return 0 if result.identical else 1
