"""A real cluster for the client tests (every server role as a process, a SQLite file of its own)."""

import io
from pathlib import Path

from nodes.cluster import Cluster
from nodes.runner import free_tcp_port


class GameCluster:
    """Every server role as a process, on a SQLite file of the test session's own."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.cluster = Cluster(
            gld_port=free_tcp_port(), run_dir=tmp / "run", out=io.StringIO(), ephemeral_ports=True,
            extra_args={"persistence": ["--set", f"persistence.url=sqlite:///{tmp / 'world.db'}"]})

    def clients_of(self, role: str) -> str:
        rows = self.cluster.tool.refresh_directory()
        return next(r[4]["clients"] for r in rows if r[1] == role and r[3])

    @property
    def login_address(self) -> str:
        return self.clients_of("login")

    @property
    def gld_address(self) -> str:
        return self.cluster.gld_address

    def game_status(self) -> dict:
        """The gamelogic node's ``logic`` module status (world counts: refused, sights, deaths...)."""
        statuses = self.cluster.tool.statuses(timeout=5)
        for status in statuses.values():
            for module in status.get("modules", []):
                if module.get("name") == "logic" and "world" in module:
                    return module
        return {}

    def log(self, role: str) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.tmp / "run").glob(f"{role}-*.log"))
