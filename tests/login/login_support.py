"""A real cluster (every server role as a process) on a SQLite file of the test's own."""

import io
import sqlite3
import time
from pathlib import Path

from nodes.cluster import Cluster
from nodes.runner import free_tcp_port


class LoginCluster:
    """A Cluster plus where its login and gamelogic nodes take clients, and its database."""

    def __init__(self, tmp: Path, *, flush_interval: float | None = None, extra_login=()):
        self.db = tmp / "world.db"
        self.tmp = tmp
        gamelogic = ["--set", f"logic.flush_interval={flush_interval}"] if flush_interval else []
        self.cluster = Cluster(
            gld_port=free_tcp_port(), run_dir=tmp / "run", out=io.StringIO(), ephemeral_ports=True,
            extra_args={"persistence": ["--set", f"persistence.url=sqlite:///{self.db}"],
                        "gamelogic": gamelogic, "login": list(extra_login)})

    def start(self):
        self.cluster.start(timeout=30)
        return self

    def stop(self):
        self.cluster.stop()

    def clients_of(self, role, timeout=10.0):
        """Where the live ``role`` node takes clients. A node the GLD declared dead while the whole
        machine stalled for a few seconds (CI once: every node silent 6 s) is back at its next
        heartbeat, so this waits for it rather than failing on the directory of that moment."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.cluster.tool.refresh_directory()
            found = next((r[4]["clients"] for r in rows if r[1] == role and r[3]), None)
            if found is not None or time.monotonic() > deadline:
                assert found is not None, f"no live {role} node in the directory: {rows}"
                return found
            time.sleep(0.2)

    @property
    def login_address(self):
        return self.clients_of("login")

    def snapshot(self):
        """Every stored account, session, character and entity: to show nothing changed."""
        with sqlite3.connect(self.db) as db:
            return {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
                    for table in ("accounts", "sessions", "characters", "entities")}

    def log(self, role):
        return "".join(p.read_text(errors="replace") for p in (self.tmp / "run").glob(f"{role}-*.log"))
