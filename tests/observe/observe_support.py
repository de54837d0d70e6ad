"""A real cluster with a recorded gamelogic node, and players that keep it busy."""

import io
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from engine.login.messages import AccountCreated, CharacterList, EnteredWorld, LoginOk
from nodes.cluster import Cluster
from nodes.headless import HeadlessClient
from nodes.runner import free_tcp_port

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
_names = (f"Watcher {chr(97 + os.getpid() % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i % 26)}"
          for i in itertools.count())


def promtool() -> str:
    """promtool's path; its absence is a failure (CI installs Debian's prometheus package)."""
    path = shutil.which("promtool")
    assert path, "promtool is not installed: apt-get install prometheus (see .ci/run)"
    return path


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:  # noqa: S310
        return r.read().decode()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of an exposition (None when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == name or (want and key == f"{name}{{{want}}}"):
            return float(value)
    return None


class ObservedCluster:
    """Every server role as a process; the gamelogic node records to ``recording``."""

    def __init__(self, tmp: Path, *, gamelogic_args=()):
        self.tmp = tmp
        self.recording = tmp / "recording"
        self.cluster = Cluster(
            gld_port=free_tcp_port(), run_dir=tmp / "run", out=io.StringIO(), ephemeral_ports=True,
            extra_args={"persistence": ["--set", f"persistence.url=sqlite:///{tmp / 'world.db'}"],
                        "gamelogic": ["--record", str(self.recording), *gamelogic_args]})

    def start(self):
        self.cluster.start(timeout=40)
        return self

    def stop(self):
        self.cluster.stop()

    def rows(self):
        return self.cluster.tool.refresh_directory()

    def extra_of(self, role):
        return next(r[4] for r in self.rows() if r[1] == role and r[3])

    @property
    def gld(self):
        return self.cluster.gld_address

    def log(self, role):
        return "".join(p.read_text(errors="replace") for p in (self.tmp / "run").glob(f"{role}-*.log"))

    def gamelogic_process(self):
        return next(n.process for n in self.cluster.nodes if n.role == "gamelogic")


def enter(login_address: str) -> HeadlessClient:
    """A new account with a character, in the world."""
    name = next(_names)
    client = HeadlessClient(login_address, timeout=30)
    created = client.create_account(name, PASSWORD)
    assert isinstance(created, AccountCreated), created
    assert isinstance(client.login(name, PASSWORD), LoginOk)
    listed = client.create_character(f"{name} Hero")
    assert isinstance(listed, CharacterList), listed
    entered = client.enter_world(listed.characters[0][0])
    assert isinstance(entered, EnteredWorld), entered
    return client


class Players:
    """Headless players moving and training in a background thread until stopped."""

    def __init__(self, clients=()):
        self.clients = list(clients)
        self.actions = 0
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        step = 0
        while not self._stop.is_set():
            if not self.clients:
                time.sleep(0.05)
            for i, c in enumerate(list(self.clients)):
                step += 1
                try:
                    if step % 5 == 0:
                        c.train("archery", 1)
                    else:
                        c.set_position(float(step % 100), float(i), 0.5 * (step % 7))
                    self.actions += 1
                except Exception as exc:  # noqa: BLE001 (reported by the test)
                    self.failures.append(repr(exc))

    def add(self, client):
        """Keep an entered client busy from now on (so it never idles out)."""
        self.clients.append(client)

    def stop(self):
        self._stop.set()
        self._thread.join(30)


def spenefett(*args, timeout=60):
    """Run the spenefett command; returns the CompletedProcess (text)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "nodes.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def wait_until(condition, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
