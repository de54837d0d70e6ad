"""``python -m bench login`` (folded into ``python -m bench persistence``): logins per second.

Real node processes (GLD, persistence on a SQLite file, one login node) on
loopback; the clients are raw sockets driving the sans-IO protocol from
this process, many in flight at once.

- **Reconnects with a resume token**: 256 accounts, one client each in
  flight: connect, handshake carrying the token, wait for ``LoginOk`` (the
  node checks the session and lists the characters: two persistence
  requests), close, again. Target >= 2,000 per second on one login node.
  Baseline: bare connects (handshake, no token, close) against the same
  node with as many in flight, the ceiling of connection handling alone.
  The network module accepts at most ``accept_per_tick`` (128) connections
  per 20 Hz tick, so 2,560 per second is the ceiling of the shipped stack.
- **Password logins at the default argon2id cost** (64 MiB, 3 passes, 4
  lanes), reported. Baseline: argon2id verifications per second in this
  process on as many threads as the login node hashes with (2), the
  ceiling the hash cost alone allows. The bench lifts the login rate limits
  (``account_burst``/``address_burst``) so they do not cap the figure.
"""

from __future__ import annotations

import contextlib
import io
import selectors
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench._report import Row
from engine.login import Passwords
from engine.login.messages import LoginOk, LoginRequest
from engine.protocol import NEED_DATA, Connection, HandshakeReceived, MessagesReceived, Role
from nodes.cluster import Cluster
from nodes.headless import HeadlessClient
from nodes.runner import free_tcp_port

Progress = Callable[[str], None]
RESUME_TARGET = 2000.0
PASSWORD = "correct horse battery staple"
ACCOUNTS = 256
"""Accounts (and clients in flight): one login per account at a time, or it takes itself over."""


@contextlib.contextmanager
def _login_cluster(folder: Path) -> Iterator[tuple[Cluster, str]]:
    lifted = ["--set", "login.account_burst=1000000000", "--set", "login.address_burst=1000000000"]
    cluster = Cluster(gld_port=free_tcp_port(), run_dir=folder / "run", out=io.StringIO(),
                      ephemeral_ports=True, roles=(("gld", 1), ("persistence", 1000), ("login", 100)),
                      extra_args={"persistence": ["--set", f"persistence.url=sqlite:///{folder / 'b.db'}"],
                                  "login": lifted})
    try:
        cluster.start(timeout=30)
        assert cluster.tool is not None
        rows = cluster.tool.refresh_directory()
        yield cluster, next(r[4]["clients"] for r in rows if r[1] == "login")
    finally:
        cluster.stop()


class _Flight:
    __slots__ = ("sock", "conn", "sent", "number")

    def __init__(self, sock: socket.socket, conn: Connection, number: int):
        self.sock, self.conn, self.sent, self.number = sock, conn, False, number


def _drive(address: str, seconds: float, in_flight: int, tokens: list[str] | None,
           first: Callable[[int], list[Any]] | None, done_when: Callable[[Any], bool]) -> float:
    """Keep ``in_flight`` clients cycling connect -> handshake [-> first messages] -> answer -> close.

    Client ``i`` (counting every launch) uses ``tokens[i % len(tokens)]`` and sends
    ``first(i)``. Returns completed cycles per second. With neither tokens nor ``first`` a cycle
    ends at the server's handshake (a bare connect).
    """
    host, _, port = address.rpartition(":")
    sel = selectors.DefaultSelector()
    done = 0
    failed = 0
    reasons: list[str] = []
    launched = 0

    def launch() -> None:
        nonlocal launched
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((host, int(port)))
        flight = _Flight(sock, Connection(Role.CLIENT), launched)
        launched += 1
        sel.register(sock, selectors.EVENT_WRITE, flight)

    def finish(flight: _Flight, ok: bool) -> None:
        nonlocal done, failed
        sel.unregister(flight.sock)
        with contextlib.suppress(OSError):
            flight.sock.send(flight.conn.close("bench done"))
        flight.sock.close()
        if ok:
            done += 1
        else:
            failed += 1
        if time.monotonic() < end:
            launch()

    end = time.monotonic() + seconds
    t0 = time.monotonic()
    for _ in range(in_flight):
        launch()
    while sel.get_map():
        for key, _events in sel.select(timeout=0.05):
            flight: _Flight = key.data
            if not flight.sent:
                try:
                    token = tokens[flight.number % len(tokens)] if tokens else None
                    flight.sock.send(flight.conn.send_handshake(token))
                except OSError:
                    finish(flight, False)
                    continue
                flight.sent = True
                sel.modify(flight.sock, selectors.EVENT_READ, flight)
                continue
            try:
                data = flight.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            flight.conn.receive_data(data, now=time.monotonic())
            outcome = None
            while outcome is None:
                try:
                    event = flight.conn.next_event()
                except Exception:
                    outcome = False
                    break
                if event is NEED_DATA:
                    break
                if isinstance(event, HandshakeReceived):
                    if first is None:
                        outcome = True
                    else:
                        msgs = first(flight.number)
                        if msgs:
                            flight.sock.send(flight.conn.send_messages(msgs))
                elif isinstance(event, MessagesReceived):
                    if any(done_when(m) for m in event.messages):
                        outcome = True
                else:
                    reasons.append(getattr(event, "reason", repr(event)))
                    outcome = False
            if outcome is not None:
                finish(flight, outcome)
            elif not data:
                finish(flight, False)
        if time.monotonic() > end + 30:  # stragglers
            break
    elapsed = time.monotonic() - t0
    if failed > done // 100:
        raise RuntimeError(f"{failed} of {done + failed} bench clients failed: {reasons[:3]}")
    return done / elapsed


def _resume_rates(address: str, tokens: list[str], progress: Progress) -> tuple[float, float]:
    is_ok = lambda m: isinstance(m, LoginOk)  # noqa: E731
    best = bare = 0.0
    for attempt in range(3):
        best = max(best, _drive(address, 3.0, len(tokens), tokens, None, is_ok))
        bare = max(bare, _drive(address, 3.0, len(tokens), None, None, lambda m: False))
        progress(f"resume round {attempt + 1}: {best:,.0f}/s (bare connects {bare:,.0f}/s)")
    return best, bare


def _password_rates(address: str, names: list[str], progress: Progress) -> tuple[float, float]:
    login = lambda i: [LoginRequest(0, 0, names[i % len(names)], PASSWORD)]  # noqa: E731
    rate = _drive(address, 6.0, 8, None, login, lambda m: isinstance(m, LoginOk))
    passwords = Passwords()
    stored = passwords.hash(PASSWORD)
    n = 24
    with ThreadPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        assert all(pool.map(lambda _: passwords.verify(stored, PASSWORD), range(n)))
        raw = n / (time.perf_counter() - t0)
    progress(f"password logins {rate:,.1f}/s (argon2id alone on 2 threads {raw:,.1f}/s)")
    return rate, raw


def _account(address: str, name: str) -> str:
    """Create ``name`` with a character; its resume token."""
    client = HeadlessClient(address, timeout=30)
    client.create_account(name, PASSWORD)
    ok = client.login(name, PASSWORD)
    if not isinstance(ok, LoginOk):
        raise RuntimeError(f"bench login failed: {ok}")
    client.create_character(f"{name} Hero")
    client.close()
    return str(ok.resume_token)


def run(progress: Progress) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="spenefett-bench-login-") as folder:
        progress("starting gld, persistence and login nodes")
        with _login_cluster(Path(folder)) as (_cluster, address):
            progress(f"creating {ACCOUNTS} accounts, each with a character")
            names = [f"Bench Player {chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(ACCOUNTS)]
            tokens = [_account(address, name) for name in names]
            resume, bare = _resume_rates(address, tokens, progress)
            password, raw = _password_rates(address, names, progress)
    t = Passwords()
    t0 = time.perf_counter()
    t.verify(t.hash(PASSWORD), PASSWORD)
    one = (time.perf_counter() - t0) / 2
    return [
        Row("reconnects with a resume token, one login node", resume, "logins/s", baseline=bare,
            target=f">= {RESUME_TARGET:,.0f} logins/s", met=resume >= RESUME_TARGET),
        Row("password logins, default argon2id (m=64 MiB, t=3, p=4)", password, "logins/s", baseline=raw),
        Row("one argon2id hash at the default cost", one * 1000, "ms"),
    ]
