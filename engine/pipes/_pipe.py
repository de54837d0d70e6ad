"""A Pipe: the FIFO of messages from one module to another.

The sending module calls ``push``; the receiving module's tick starts with a
``drain`` that returns every message due, in the order they were pushed. A
pipe has a bound: pushing onto a full pipe raises :class:`PipeFullError` at
the sender, where the problem is, instead of growing without limit.

Filters sit on the push side and decide per message: pass it (possibly
rewritten, e.g. with ``frm`` stamped), drop it, or hold it back for some
ticks. Taps see every batch a drain delivers (the recorder is one).

>>> from engine.pipes import Pipe
>>> p = Pipe("net", "logic")
>>> p.push("a"); p.push("b")
>>> p.drain(tick=0)
['a', 'b']
>>> p.stats().delivered
2
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from engine.pipes.filters import Delay, Filter

DEFAULT_BOUND = 100_000
"""Messages a pipe holds before a push raises PipeFullError."""

Tap = Callable[[int, "Pipe", list[Any]], None]
"""Called with (tick, pipe, delivered messages) after each drain that delivered any."""


class PipeError(RuntimeError):
    """Base of the errors a pipe raises."""


class PipeFullError(PipeError):
    """The receiver has not drained and the pipe is at its bound."""


@attrs.frozen(slots=True)
class PipeStats:
    """Counters of one pipe, as of the moment they were taken."""

    name: str
    sent: int
    """Messages pushed, whatever became of them."""
    delivered: int
    dropped: int
    """Refused by a filter."""
    delayed: int
    """Held back by a filter (each counted once, when held)."""
    depth: int
    """Messages waiting now, held ones included."""
    peak_depth: int


class Pipe:
    """FIFO from ``sender`` to ``receiver`` with a bound, filters and taps."""

    __slots__ = (
        "name", "sender", "receiver", "bound", "_items", "_held", "_filters", "_taps",
        "_delivered", "_dropped", "_delayed", "_peak", "_now", "push", "_batch_filters",
    )

    def __init__(
        self,
        sender: str,
        receiver: str,
        *,
        bound: int = DEFAULT_BOUND,
        filters: Sequence[Filter] = (),
        now: Callable[[], int] | None = None,
    ):
        if bound < 1:
            raise ValueError(f"pipe bound must be at least 1, got {bound}")
        self.name = f"{sender}->{receiver}"
        self.sender = sender
        self.receiver = receiver
        self.bound = bound
        self._items: list[Any] = []
        self._held: list[tuple[int, Any]] = []  # (due tick, message), in push order
        self._filters: list[Filter] = []
        self._taps: list[Tap] = []
        self._delivered = 0
        self._dropped = 0
        self._delayed = 0
        self._peak = 0
        self._now = now or (lambda: 0)
        self.push: Callable[[Any], None] = self._push_plain
        self._batch_filters: list[Callable[[list[Any]], list[Any]]] | None = None
        for f in filters:
            self.add_filter(f)

    # -- wiring ------------------------------------------------------------------

    def add_filter(self, f: Filter) -> None:
        """Append a filter; filters run in the order added."""
        self._filters.append(f)
        self.push = self._push_filtered
        many = [getattr(f, "filter_many", None) for f in self._filters]
        self._batch_filters = many if None not in many else None  # type: ignore[assignment]

    def add_tap(self, tap: Tap) -> None:
        self._taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        self._taps.remove(tap)

    def set_tick_source(self, now: Callable[[], int]) -> None:
        """Where delay filters read the current tick (the Engine wires its own)."""
        self._now = now

    # -- the hot path ------------------------------------------------------------

    def _push_plain(self, message: Any) -> None:
        items = self._items
        if len(items) >= self.bound:
            raise PipeFullError(f"pipe {self.name} is full ({self.bound} messages undrained)")
        items.append(message)

    def _push_filtered(self, message: Any) -> None:
        if len(self._items) + len(self._held) >= self.bound:
            raise PipeFullError(f"pipe {self.name} is full ({self.bound} messages undrained)")
        for f in self._filters:
            verdict = f(message)
            if verdict is None:
                self._dropped += 1
                return
            if type(verdict) is Delay:
                self._delayed += 1
                self._held.append((self._now() + verdict.ticks, verdict.message))
                return
            message = verdict
        self._items.append(message)

    def push_many(self, messages: list[Any]) -> None:
        """Push a list in order: one bound check for all of it when the pipe has no filters."""
        if self._filters:
            self._push_many_filtered(messages)
            return
        items = self._items
        if len(items) + len(messages) > self.bound:
            room = self.bound - len(items)
            items.extend(messages[:max(room, 0)])
            raise PipeFullError(f"pipe {self.name} is full ({self.bound} messages undrained); "
                                f"{len(messages) - max(room, 0)} of {len(messages)} refused")
        items.extend(messages)

    def _push_many_filtered(self, messages: list[Any]) -> None:
        """``_push_filtered`` for each message, in one loop: a network module pushes a
        client's every message through the client filter, and a call per message
        was a tenth of that."""
        items, held, filters, bound = self._items, self._held, self._filters, self.bound
        batch_filters = self._batch_filters
        if batch_filters is not None and len(items) + len(held) + len(messages) <= bound:
            # Every filter decides a whole list, and all of it fits: one call per filter
            # (message by message, no check could have failed).
            for filter_many in batch_filters:
                passed = filter_many(messages)
                self._dropped += len(messages) - len(passed)
                messages = passed
            items.extend(messages)
            return
        for message in messages:
            if len(items) + len(held) >= bound:
                raise PipeFullError(f"pipe {self.name} is full ({bound} messages undrained)")
            for f in filters:
                verdict = f(message)
                if verdict is None:
                    self._dropped += 1
                    break
                if type(verdict) is Delay:
                    self._delayed += 1
                    held.append((self._now() + verdict.ticks, verdict.message))
                    break
                message = verdict
            else:
                items.append(message)

    def drain(self, tick: int) -> list[Any]:
        """Every message due at ``tick``: held ones now due first, then the rest, FIFO."""
        items = self._items
        if self._held:
            items = self._release(tick) + items
        elif not items:
            return []
        depth = len(items)
        total = depth + len(self._held)
        if total > self._peak:
            self._peak = total
        self._items = []
        self._delivered += depth
        if self._taps:
            for tap in self._taps:
                tap(tick, self, items)
        return items

    def _release(self, tick: int) -> list[Any]:
        due = [m for t, m in self._held if t <= tick]
        if due:
            self._held = [(t, m) for t, m in self._held if t > tick]
        return due

    # -- reading -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items) + len(self._held)

    def stats(self) -> PipeStats:
        depth = len(self)
        peak = max(self._peak, depth)
        immediate_in_queue = len(self._items)
        # every push ends as exactly one of: delivered, dropped, held, or still queued
        sent = self._delivered + self._dropped + self._delayed + immediate_in_queue
        # held messages released later are counted in delivered too: take them out once
        released = self._delayed - len(self._held)
        sent -= released
        return PipeStats(
            name=self.name,
            sent=sent,
            delivered=self._delivered,
            dropped=self._dropped,
            delayed=self._delayed,
            depth=depth,
            peak_depth=peak,
        )

    def __repr__(self) -> str:
        return f"<Pipe {self.name} depth={len(self)}>"
