"""StoreWorker: one thread that owns the Store, so a tick never waits on the database.

The persistence module submits jobs (a function of the Store) from its
tick and collects finished ones in a later tick; nothing in between blocks.
Jobs run one at a time in submission order on the worker's own connection,
so a save submitted before a load is visible to that load::

    worker = StoreWorker(lambda: open_store(url))
    worker.start()                       # opens and migrates; raises if that fails
    worker.submit("tag", lambda store: store.load_region("valley"))
    ...
    for tag, result, error in worker.finished():   # never blocks
        ...
    worker.stop()                        # runs what is queued, then closes the store
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.persistence._store import Store

log = logging.getLogger("spenefett.persistence")

_STOP = object()


class StoreWorker:
    """Runs Store jobs on a dedicated thread; results are picked up without blocking."""

    def __init__(self, open_store: Callable[[], Store], *, name: str = "store-worker"):
        self._open = open_store
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done: deque[tuple[Any, Any, BaseException | None]] = deque()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._submitted = 0
        self._completed = 0
        self.busy_seconds = 0.0
        """Time spent inside jobs (for status and metrics)."""
        self.last_job_seconds = 0.0
        self.backend = ""

    def start(self, timeout: float = 60.0) -> None:
        """Start the thread and wait until the store is open and migrated; re-raise its failure."""
        self._thread.start()
        if not self._opened.wait(timeout):
            raise TimeoutError(f"the store did not open within {timeout:g} s")
        if self._open_error is not None:
            self._thread.join(timeout)
            raise self._open_error

    def submit(self, tag: Any, job: Callable[[Store], Any]) -> None:
        """Queue ``job(store)``; its result or exception comes back from ``finished`` with ``tag``."""
        if not self._thread.is_alive():
            raise RuntimeError("the store worker is not running")
        self._submitted += 1
        self._jobs.put((tag, job))

    def finished(self) -> list[tuple[Any, Any, BaseException | None]]:
        """``(tag, result, error)`` of every job completed since the last call, in order."""
        out = []
        done = self._done
        while done:
            out.append(done.popleft())
        return out

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet completed."""
        return self._submitted - self._completed

    def stop(self, timeout: float = 60.0) -> None:
        """Finish every queued job, close the store, and join the thread."""
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the store worker did not finish its queue within %g s", timeout)

    def _run(self) -> None:
        try:
            store = self._open()
        except BaseException as exc:
            self._open_error = exc
            self._opened.set()
            return
        self.backend = store.backend
        self._opened.set()
        try:
            while True:
                item = self._jobs.get()
                if item is _STOP:
                    return
                tag, job = item
                started = time.perf_counter()
                try:
                    result, error = job(store), None
                except Exception as exc:
                    result, error = None, exc
                    store = self._reopen_if_broken(store)
                self.last_job_seconds = time.perf_counter() - started
                self.busy_seconds += self.last_job_seconds
                self._done.append((tag, result, error))
                self._completed += 1
        finally:
            try:
                store.close()
            except Exception:
                log.exception("closing the store failed")

    def _reopen_if_broken(self, store: Store) -> Store:
        """A lost connection (database restarted) is replaced before the next job."""
        if not store.is_broken():
            return store
        log.warning("the store connection is broken; reconnecting")
        with contextlib.suppress(Exception):
            store.close()
        try:
            return self._open()
        except Exception as exc:
            log.error("reconnecting to the store failed: %s", exc)
            return store
