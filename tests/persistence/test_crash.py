"""``kill -9`` of a real persistence node in the middle of a flush leaves no partial character.

A GLD and a persistence node run as processes; a tool node sends one big
batch of character saves (one transaction), and the persistence node is
killed with SIGKILL while its database writes are under way (seen in
``/proc/<pid>/io``). Afterwards the store opens cleanly and every character
is wholly the old version or wholly the new one, and since the batch is one
transaction, all of them are the same one.
"""

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import psycopg
import pytest

from engine.guid import WellKnown, module_guid
from engine.persistence import SqliteStore, open_store
from engine.persistence.messages import SaveEntities, SaveResult
from nodes.runner import free_tcp_port
from nodes.tool import ToolNode

REPO = Path(__file__).resolve().parents[2]
CHARACTERS = 20_000
NODE = 1000
ROUNDS = 3


def _state(entity_id, version):
    """A state whose every byte depends on (id, version): a mix of two versions cannot pass."""
    block = hashlib.sha256(f"{entity_id}:{version}".encode()).digest()
    return msgpack.packb({"id": entity_id, "v": version, "inventory": block * 48})


def _rows(version):
    return [[i, "Hero", i % 97 + 1, f"region-{i % 13}", version, _state(i, version)]
            for i in range(1, CHARACTERS + 1)]


def _written(pid):
    """Bytes the process has handed to write()/send() so far."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise AssertionError("no wchar in /proc/pid/io")


class _FlushWatch:
    """Tells when the node's flush is under way: SQLite writes seen in /proc, or PostgreSQL running it."""

    def __init__(self, url, pid):
        self.pid = pid
        self.postgres = None if url.startswith("sqlite:") else psycopg.connect(url, autocommit=True)
        self.before = _written(pid)
        self.seen_at = None

    def flushing(self, depth):
        if self.postgres is None:
            # SQLite spills the transaction's pages into the WAL as it goes
            return _written(self.pid) - self.before >= (2 + 4 * depth) * (1 << 20)
        # libpq sends with send(), which /proc/pid/io does not count: ask the server instead
        row = self.postgres.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE 'INSERT INTO entities%' AND pid <> pg_backend_pid()").fetchone()
        if row[0] and self.seen_at is None:
            self.seen_at = time.monotonic()
        if self.seen_at is not None and time.monotonic() - self.seen_at >= 0.02 * depth:
            self.postgres.close()
            return True
        return False


class _Cluster:
    def __init__(self, tmp_path, url):
        self.tmp = tmp_path
        self.gld_port = free_tcp_port()
        self.listen = f"tcp://127.0.0.1:{free_tcp_port()}"
        self.gld_address = f"tcp://127.0.0.1:{self.gld_port}"
        stack = (REPO / "nodes" / "persistence.toml").read_text()
        self.stack = tmp_path / "persistence.toml"
        self.stack.write_text(stack.replace('url = "sqlite:///var/spenefett.db"', f'url = "{url}"'))
        assert url in self.stack.read_text()
        self.gld = subprocess.Popen(
            [sys.executable, "-m", "nodes.cli", "node", "gld", "--id", "1", "--listen", self.gld_address,
             "--gld", self.gld_address], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.node: subprocess.Popen | None = None
        self.tool = ToolNode(self.gld_address)
        self.serial = 0

    def start_node(self):
        log = open(self.tmp / "persistence.log", "ab")  # noqa: SIM115 - the child writes it
        self.node = subprocess.Popen(
            [sys.executable, "-m", "nodes.cli", "node", "persistence", "--id", str(NODE), "--stack",
             str(self.stack), "--gld", self.gld_address, "--listen", self.listen],
            cwd=self.tmp, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=log, stderr=log)
        log.close()
        # ready when it answers a status request through the cluster
        assert self.tool.wait_for(lambda: NODE in self.tool.statuses([NODE], timeout=0.5), timeout=30), \
            (self.tmp / "persistence.log").read_text()[-3000:]

    def save(self, rows):
        self.serial += 1
        to = module_guid(NODE, WellKnown.PERSISTENCE)
        # several requests sent in one tick: the node commits them in one transaction
        step = 5_000
        for start in range(0, len(rows), step):
            self.tool.send(SaveEntities(to, self.tool.collector.guid, self.serial * 100 + start // step,
                                        rows[start:start + step]))
        self.tool.engine.tick_once()
        return self.serial

    def results(self):
        return [m for m in self.tool.collector.other if type(m) is SaveResult]

    def kill_node(self):
        self.node.send_signal(signal.SIGKILL)
        self.node.wait(10)

    def close(self):
        with contextlib.suppress(Exception):
            self.tool.close()
        for p in (self.node, self.gld):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)


def _check_store(url):
    """Open the store, check it is sound, and return the one version every character is at."""
    with contextlib.closing(open_store(url)) as store:
        if isinstance(store, SqliteStore):
            assert "ok" == store.integrity_check()
        rows = store.load_entities(range(1, CHARACTERS + 1))
    assert CHARACTERS == len(rows)
    versions = set()
    for row in rows:
        state = msgpack.unpackb(row.state)
        assert row.entity_id == state["id"]
        assert row.version == state["v"], f"entity {row.entity_id}: columns and state disagree"
        assert _state(row.entity_id, row.version) == row.state, f"entity {row.entity_id}: torn state"
        versions.add(row.version)
    assert 1 == len(versions), f"one transaction came out partly applied: versions {sorted(versions)}"
    return versions.pop()


def test_kill_9_mid_flush_leaves_every_character_old_or_new(tmp_path, store_url):
    if not os.path.exists(f"/proc/{os.getpid()}/io"):
        pytest.skip("needs /proc/<pid>/io to see the node writing")
    cluster = _Cluster(tmp_path, store_url)
    try:
        cluster.tool.wait_for_directory(min_nodes=1, timeout=20)
        cluster.start_node()
        cluster.save(_rows(1))
        assert cluster.tool.wait_for(lambda: len(cluster.results()) == 4, timeout=120)
        assert all(len(r.saved_ids) == 5_000 for r in cluster.results())
        version = 1
        interrupted = 0
        for round_ in range(ROUNDS):
            cluster.tool.collector.other.clear()
            new = version + 1
            watch = _FlushWatch(store_url, cluster.node.pid)
            cluster.save(_rows(new))
            # wait until the node is writing the batch, then a little further into it each round
            deadline = time.monotonic() + 60
            while not watch.flushing(depth=round_) and time.monotonic() < deadline:
                cluster.tool.engine.tick_once()
                time.sleep(0.0005)
            cluster.kill_node()
            stored = _check_store(store_url)
            assert stored in (version, new)
            interrupted += stored == version
            version = stored
            cluster.start_node()
        # the point of the test: at least one kill landed before the commit finished
        assert interrupted >= 1, "every kill came after the commit; the flush was never interrupted"
    finally:
        cluster.close()
