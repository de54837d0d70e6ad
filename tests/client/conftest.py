"""Fixtures of the client tests: a real cluster, and an X display (Xvfb) for the windowed client."""

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def game_cluster(tmp_path_factory):
    c = GameCluster(tmp_path_factory.mktemp("client-cluster"))
    c.cluster.start(timeout=40)
    try:
        yield c
    finally:
        c.cluster.stop()


def _free_display() -> int:
    for n in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture(scope="session")
def xvfb():
    """A virtual X display with Mesa's software OpenGL; yields its DISPLAY string."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb libgl1-mesa-dri)")
    for _ in range(5):
        n = _free_display()
        proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp",
                                 "+extension", "GLX"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(f"/tmp/.X11-unix/X{n}"):
                break
            time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        pytest.fail("Xvfb did not start")
    try:
        yield f":{n}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
