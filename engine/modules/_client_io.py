"""How the network module's bytes reach its client sockets: on a native thread, or inside the tick.

The NetworkModule keeps the protocol objects and every rule; a *client I/O*
only moves bytes. Two exist, with one interface:

- :class:`ThreadedIO` (the default where ``native._netio`` is built, i.e.
  Linux): a native thread waits for readable sockets, reads them and sends
  what the tick queued, outside the GIL (``native/netio.c``). The tick takes
  each socket's input in one call and queues each client's frame in one
  call, so at thousands of clients the system calls, most of a tick's cost
  before, run beside the tick on another core;
- :class:`InlineIO`: the same work inside the tick with non-blocking
  sockets and one poller, for platforms without the native module and for
  ``io_thread = false``.

Both report end of file and errors through :meth:`collect`, after the bytes
that arrived before them, so the module has one path for a lost client.
``collect`` returns ``(received, lost)``: ``(fd, bytes)`` and ``(fd,
reason)`` pairs, reason None for end of file.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from typing import Any

try:
    from native._netio import Pump as _Pump
except ImportError:  # not Linux, or a source tree built before netio.c
    _Pump = None

THREAD_AVAILABLE = _Pump is not None
"""Whether :class:`ThreadedIO` can be used here."""

_READ_CHUNK = 65536  # recv(n) allocates n bytes: above 128 KiB that is an mmap per call
_IN = select.POLLIN

Received = list[tuple[int, bytes]]
Lost = list[tuple[int, str | None]]


def _reason(err: int) -> str | None:
    return None if err == 0 else os.strerror(err)


class ThreadedIO:
    """Client sockets read and written by a native thread (``native/netio.c``)."""

    threaded = True

    def __init__(self, read_cap: int):
        if _Pump is None:
            raise RuntimeError("native._netio is not built on this platform: use io_thread = false")
        self._pump = _Pump(read_cap=read_cap)
        self._collect = self._pump.collect
        self._hold = self._pump.hold

    def add(self, sock: socket.socket) -> None:
        self._pump.add(sock.fileno())

    def remove(self, fd: int) -> None:
        """Forget ``fd``; on return the thread no longer touches it, so it may be closed."""
        self._pump.remove(fd)

    def collect(self) -> tuple[Received, Lost]:
        received, lost = self._collect()
        if lost:
            return received, [(fd, _reason(err)) for fd, err in lost]
        return received, lost

    def write(self, fds: list[int], datas: list[bytes], limit: int) -> list[tuple[int, int]]:
        """Queue each frame; returns (fd, unsent bytes) of the sockets now past ``limit``."""
        return self._pump.write(fds, datas, limit)  # type: ignore[no-any-return]

    def shutdown(self, fd: int) -> None:
        """Shut the write side once what is queued is sent."""
        self._pump.shutdown(fd)

    def unsent(self, fd: int) -> int:
        return self._pump.unsent(fd)  # type: ignore[no-any-return]

    def hold(self, on: bool) -> None:
        """Keep the thread from starting a round while ``on`` (the tick runs meanwhile).

        On a machine with few cores the thread's system calls would
        otherwise take the core the tick is running on; held, they wait in
        the kernel for the tick to end, and nothing is read any later than
        before: the tick collects once, at its start.
        """
        self._hold(on)

    def stats(self) -> dict[str, int]:
        return self._pump.stats()  # type: ignore[no-any-return]

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for queued output to leave (at shutdown: the close frames)."""
        end = time.monotonic() + timeout
        while self._pump.stats()["unsent_bytes"] and time.monotonic() < end:
            time.sleep(0.005)

    def close(self) -> None:
        self._pump.close()


class InlineIO:
    """Client sockets read and written inside the tick: one poller, non-blocking sockets."""

    threaded = False

    def __init__(self, read_cap: int):
        self._read_cap = read_cap
        self._epoll = hasattr(select, "epoll")
        self._poller: Any = select.epoll() if self._epoll else select.poll()
        self._socks: dict[int, socket.socket] = {}
        self._outbufs: dict[int, bytearray] = {}  # fd -> bytes the kernel has not taken yet
        self._shut_after: set[int] = set()
        self._lost: Lost = []  # failures met while writing, reported by the next collect
        self._gone: set[int] = set()  # lost, not yet removed: not read again

    def add(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        self._socks[fd] = sock
        self._poller.register(fd, _IN)

    def remove(self, fd: int) -> None:
        if self._socks.pop(fd, None) is None:
            return
        with contextlib.suppress(OSError, ValueError, KeyError):
            self._poller.unregister(fd)
        self._outbufs.pop(fd, None)
        self._shut_after.discard(fd)
        self._gone.discard(fd)

    def collect(self) -> tuple[Received, Lost]:
        lost, self._lost = self._lost, []
        received: Received = []
        if self._outbufs:
            self._write_stalled(lost)
        ready = (self._poller.poll(0, len(self._socks) + 1) if self._epoll
                 else self._poller.poll(0))  # epoll's default would stop at 1023 sockets
        socks, gone = self._socks, self._gone
        for fd, _events in ready:
            sock = socks.get(fd)
            if sock is None or fd in gone:
                continue
            try:
                data = sock.recv(_READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                self._fail(fd, exc, lost)
                continue
            if len(data) == _READ_CHUNK:  # more may be waiting: read on, up to the cap
                data = self._read_more(sock, data, lost)
            if data:
                received.append((fd, data))
            if not data and fd not in gone:  # end of file (a failed read is in lost already)
                gone.add(fd)
                lost.append((fd, None))
        return received, lost

    def _read_more(self, sock: socket.socket, data: bytes, lost: Lost) -> bytes:
        parts = [data]
        total = len(data)
        while total < self._read_cap:
            try:
                more = sock.recv(_READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._fail(sock.fileno(), exc, lost)
                break
            if not more:
                break  # end of file: the next poll reports it
            parts.append(more)
            total += len(more)
            if len(more) < _READ_CHUNK:
                break
        return b"".join(parts)

    def _fail(self, fd: int, exc: OSError, lost: Lost) -> None:
        if fd not in self._gone:
            self._gone.add(fd)
            lost.append((fd, exc.strerror or str(exc)))

    def write(self, fds: list[int], datas: list[bytes], limit: int) -> list[tuple[int, int]]:
        over = []
        socks, outbufs, gone = self._socks, self._outbufs, self._gone
        for fd, data in zip(fds, datas, strict=True):
            sock = socks.get(fd)
            if sock is None or fd in gone or not data:
                continue
            buf = outbufs.get(fd)
            if buf is not None:
                buf += data
            else:
                try:
                    sent = sock.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError as exc:
                    self._fail(fd, exc, self._lost)
                    continue
                if sent == len(data):
                    continue
                buf = outbufs[fd] = bytearray(memoryview(data)[sent:])
            if len(buf) > limit:
                over.append((fd, len(buf)))
        return over

    def _write_stalled(self, lost: Lost) -> None:
        for fd, buf in list(self._outbufs.items()):
            try:
                sent = self._socks[fd].send(buf)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                self._outbufs.pop(fd)
                self._fail(fd, exc, lost)
                continue
            del buf[:sent]
            if not buf:
                del self._outbufs[fd]
                if fd in self._shut_after:
                    self._shut(fd)

    def shutdown(self, fd: int) -> None:
        if fd in self._outbufs:
            self._shut_after.add(fd)
        else:
            self._shut(fd)

    def _shut(self, fd: int) -> None:
        self._shut_after.discard(fd)
        sock = self._socks.get(fd)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                self._fail(fd, exc, self._lost)

    def unsent(self, fd: int) -> int:
        return len(self._outbufs.get(fd, b""))

    def hold(self, on: bool) -> None:
        """Nothing to hold: the tick does the I/O itself."""

    def stats(self) -> dict[str, int]:
        return {"open": len(self._socks), "stalled": len(self._outbufs),
                "unsent_bytes": sum(map(len, self._outbufs.values()))}

    def drain(self, timeout: float) -> None:
        """One more try at what is waiting (never blocks)."""
        self._write_stalled(self._lost)

    def close(self) -> None:
        if hasattr(self._poller, "close"):
            self._poller.close()


def client_io(threaded: bool, read_cap: int) -> ThreadedIO | InlineIO:
    """The client I/O to use: the native thread if asked for and built, else inline."""
    return ThreadedIO(read_cap) if threaded and THREAD_AVAILABLE else InlineIO(read_cap)
