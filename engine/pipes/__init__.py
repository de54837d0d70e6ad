"""Pipes: bounded FIFOs of messages between modules, with filters and taps."""

from engine.pipes._pipe import DEFAULT_BOUND, Pipe, PipeError, PipeFullError, PipeStats, Tap
from engine.pipes.filters import AllowTypes, Delay, DelayAll, DropTypes, Filter, Predicate
from engine.pipes.recorder import Record, Recorder, RecordingError, read_recording

__all__ = [
    "DEFAULT_BOUND", "AllowTypes", "Delay", "DelayAll", "DropTypes", "Filter", "Pipe", "PipeError",
    "PipeFullError", "PipeStats", "Predicate", "Record", "Recorder", "RecordingError", "Tap",
    "read_recording",
]
