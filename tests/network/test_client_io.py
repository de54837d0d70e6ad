"""The client I/Os on real loopback TCP sockets: the native thread and the inline one behave alike.

The conftest runs every test here twice (its mode fixture); the I/O under
test is picked from that mode, so each test checks one implementation.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time

import pytest

from engine.modules._client_io import InlineIO, ThreadedIO

WAIT = 5.0


@pytest.fixture
def io(client_io_mode):
    made = (ThreadedIO if client_io_mode == "io-thread" else InlineIO)(read_cap=256 * 1024)
    yield made
    made.close()


@pytest.fixture
def listener():
    s = socket.create_server(("127.0.0.1", 0))
    yield s
    s.close()


@pytest.fixture
def connect(io, listener):
    """Makes (server end served by ``io``, client end) pairs; lets go of them after the test."""
    made: list[tuple[socket.socket, socket.socket]] = []

    def make() -> tuple[socket.socket, socket.socket]:
        client = socket.create_connection(listener.getsockname(), timeout=WAIT)
        server, _ = listener.accept()
        server.setblocking(False)
        io.add(server)
        made.append((server, client))
        return server, client

    yield make
    for server, client in made:
        if server.fileno() >= 0:
            io.remove(server.fileno())
        server.close()
        client.close()


def _collect_until(io, done, wait: float = WAIT):
    """Collect until ``done(received_bytes_by_fd, lost)``; returns both."""
    got: dict[int, bytearray] = {}
    lost: list = []
    deadline = time.monotonic() + wait
    while True:
        received, gone = io.collect()
        for fd, data in received:
            got.setdefault(fd, bytearray()).extend(data)
        lost.extend(gone)
        if done(got, lost) or time.monotonic() > deadline:
            return got, lost
        time.sleep(0.002)


def _read_exactly(sock: socket.socket, n: int, io=None) -> bytes:
    """n bytes from ``sock``; with ``io``, collecting meanwhile (the inline I/O writes in its tick)."""
    out = bytearray()
    sock.setblocking(False)
    deadline = time.monotonic() + WAIT
    while len(out) < n and time.monotonic() < deadline:
        try:
            chunk = sock.recv(n - len(out))
        except BlockingIOError:
            if io is not None:
                io.collect()
            time.sleep(0.001)
            continue
        if not chunk:
            break
        out += chunk
    return bytes(out)


def test_bytes_in_arrive_through_collect_in_order(io, connect):
    server, client = connect()
    for i in range(50):
        client.sendall(struct.pack(">I", i))

    got, lost = _collect_until(io, lambda got, lost: len(got.get(server.fileno(), b"")) >= 200)

    assert [] == lost
    assert list(range(50)) == [v for (v,) in struct.iter_unpack(">I", got[server.fileno()])]


def test_writes_leave_in_the_order_queued(io, connect):
    server, client = connect()
    frames = [struct.pack(">I", i) * 100 for i in range(200)]
    for frame in frames:
        assert [] == io.write([server.fileno()], [frame], 1 << 20)

    assert b"".join(frames) == _read_exactly(client, sum(map(len, frames)), io)


def test_one_write_call_serves_many_sockets(io, connect):
    pairs = [connect() for _ in range(20)]

    io.write([s.fileno() for s, _ in pairs], [f"to {i}".encode() for i in range(20)], 1 << 20)

    assert [f"to {i}".encode() for i in range(20)] == [_read_exactly(c, len(f"to {i}"), io)
                                                       for i, (_, c) in enumerate(pairs)]


def test_a_peer_that_stops_reading_passes_the_limit_and_nothing_is_lost_before(io, connect):
    server, client = connect()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    block = b"x" * 10_000
    over: list = []
    written = 0
    for _ in range(1000):  # 10 MB at most: far past any loopback buffer
        over = io.write([server.fileno()], [block], 200_000)
        written += len(block)
        if over:
            break
        time.sleep(0.001)

    assert over and over[0][0] == server.fileno() and over[0][1] > 200_000
    assert io.unsent(server.fileno()) == over[0][1]
    # when the peer reads after all, every byte queued arrives
    assert written == len(_read_exactly(client, written, io))


def test_shutdown_sends_what_is_queued_then_end_of_file(io, connect):
    server, client = connect()
    io.write([server.fileno()], [b"last words"], 1 << 20)
    io.shutdown(server.fileno())

    assert b"last words" == _read_exactly(client, 10, io)
    client.setblocking(True)
    client.settimeout(WAIT)
    assert b"" == client.recv(10)  # end of file: our write side is shut
    client.sendall(b"still heard")  # the read side stays open
    got, _ = _collect_until(io, lambda got, lost: bytes(got.get(server.fileno(), b"")) == b"still heard")
    assert b"still heard" == bytes(got[server.fileno()])


def test_end_of_file_comes_after_the_bytes_before_it(io, connect):
    server, client = connect()
    client.sendall(b"goodbye")
    client.close()

    got, lost = _collect_until(io, lambda got, lost: bool(lost))

    assert b"goodbye" == bytes(got[server.fileno()])
    assert [(server.fileno(), None)] == lost


def test_a_reset_is_lost_with_the_system_reason(io, connect):
    server, client = connect()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a linger of 0: the kernel sends a reset

    _got, lost = _collect_until(io, lambda got, lost: bool(lost))

    assert 1 == len(lost)
    fd, reason = lost[0]
    assert server.fileno() == fd
    assert reason is None or "reset" in reason.lower()  # a reset may read as end of file first


def test_more_than_the_read_cap_between_collects_comes_over_several_with_nothing_lost(io, connect):
    server, client = connect()
    data = bytes(range(256)) * 8192  # 2 MiB, eight times the cap
    client.setblocking(False)
    sent = 0
    got = bytearray()
    deadline = time.monotonic() + WAIT * 4
    biggest = 0
    while len(got) < len(data) and time.monotonic() < deadline:
        if sent < len(data):
            with contextlib.suppress(BlockingIOError):
                sent += client.send(data[sent:sent + 65536])
        received, lost = io.collect()
        assert [] == lost
        for _fd, chunk in received:
            biggest = max(biggest, len(chunk))
            got += chunk
        time.sleep(0.001)

    assert data == bytes(got)
    assert biggest <= 256 * 1024 + 65536  # held back at the cap, plus at most one read


def test_a_reused_descriptor_number_gets_only_its_own_bytes(io, connect, listener):
    first, first_client = connect()
    fd = first.fileno()
    first_client.sendall(b"old")
    second_client = socket.create_connection(listener.getsockname(), timeout=WAIT)
    io.remove(fd)  # what it had buffered is forgotten
    first.close()
    second, _ = listener.accept()  # the lowest free number: the one just closed
    second.setblocking(False)
    if second.fileno() != fd:
        second.close()
        second_client.close()
        pytest.skip("the kernel gave the new socket another number")
    io.add(second)
    second_client.sendall(b"new")

    got, lost = _collect_until(io, lambda got, lost: len(got.get(fd, b"")) >= 3, wait=1.0)

    assert b"new" == bytes(got[fd])
    assert [] == lost
    io.remove(fd)
    second.close()
    second_client.close()


def test_a_held_thread_neither_reads_nor_sends_until_let_go(client_io_mode, io, connect):
    if client_io_mode != "io-thread":
        pytest.skip("only the native thread runs while the tick does")
    server, client = connect()
    io.hold(True)
    time.sleep(0.01)  # the round in flight, if any, ends
    rounds = io.stats()["rounds"]
    client.sendall(b"while held")
    io.write([server.fileno()], [b"queued while held"], 1 << 20)
    time.sleep(0.1)

    assert ([], []) == io.collect()
    assert rounds == io.stats()["rounds"]
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)

    io.hold(False)
    got, _ = _collect_until(io, lambda got, lost: got.get(server.fileno()) == b"while held")
    assert b"while held" == got[server.fileno()]
    assert b"queued while held" == _read_exactly(client, len(b"queued while held"))


def test_a_held_pump_still_closes(client_io_mode):
    if client_io_mode != "io-thread":
        pytest.skip("the native pump's own thread")
    io = ThreadedIO(read_cap=1024)
    io.hold(True)
    io.close()  # returns: stopping lets a held thread go


def test_the_native_pump_skips_unknown_descriptors_and_refuses_bad_arguments(client_io_mode):
    if client_io_mode != "io-thread":
        pytest.skip("the native pump's own checks")
    io = ThreadedIO(read_cap=1024)
    try:
        assert [] == io.write([12345], [b"nobody"], 10)
        io.remove(12345)  # nothing to forget: no error
        assert 0 == io.unsent(12345)
        with pytest.raises(ValueError):
            io.write([-1], [b"x"], 10)
        with pytest.raises(TypeError):
            io.write([1], ["not bytes"], 10)
    finally:
        io.close()
    with pytest.raises(RuntimeError):
        io.write([1], [b"x"], 10)  # closed
