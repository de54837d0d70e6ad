"""``spenefett cluster``: one node of every server role as processes on loopback.

The GLD starts first; the other roles follow and register with it. The
cluster then watches: a live one-line health view (nodes up, tick p99 per
node), a report and a restart with backoff when a node dies, and on Ctrl-C
(or SIGTERM) every node is stopped in reverse order, with SIGKILL for any
that has not exited after a grace period. Children also get SIGTERM from
the kernel if the cluster process itself dies, so no node is orphaned.

Each node's output goes to ``<run dir>/<role>-<id>.log``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from nodes.runner import DEFAULT_GLD_NODE, has_network
from nodes.tool import ToolNode

SERVER_ROLES: tuple[tuple[str, int], ...] = (
    ("gld", DEFAULT_GLD_NODE),
    ("persistence", 1000),
    ("login", 100),
    ("gamelogic", 2000),
    ("ai", 10000),
    ("physics", 11000),
)
"""(role, node id) of each node ``spenefett cluster`` starts, in start order."""

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@attrs.define
class NodeProcess:
    role: str
    node_id: int
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0
    backoff: float = 1.0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115  (handed to the child)
        try:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        finally:
            log.close()
        self.started_at = time.monotonic()


class Cluster:
    """Starts, watches, restarts and stops the node processes of one shard."""

    def __init__(
        self,
        *,
        gld_port: int = 7100,
        run_dir: str | Path = "var/cluster",
        roles: Sequence[tuple[str, int]] = SERVER_ROLES,
        out: TextIO = sys.stdout,
        extra_args: dict[str, list[str]] | None = None,
        ephemeral_ports: bool = False,
    ):
        """``ephemeral_ports`` gives client-facing modules and metrics servers free ports instead
        of the stack's (7000 for gamelogic, ...), so several clusters can run side by side (tests)."""
        self.gld_address = f"tcp://127.0.0.1:{gld_port}"
        self.run_dir = Path(run_dir)
        self.out = out
        self.nodes: list[NodeProcess] = []
        for role, node_id in roles:
            args = [sys.executable, "-m", "nodes.cli", "node", role, "--id", str(node_id),
                    "--gld", self.gld_address]
            args += (extra_args or {}).get(role, [])
            if ephemeral_ports and has_network(role):
                args += ["--set", "net.port=0"]
            if ephemeral_ports:
                args += ["--metrics-port", "0"]
            self.nodes.append(NodeProcess(role, node_id, args, self.run_dir / f"{role}-{node_id}.log"))
        self._env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        repo = str(Path(__file__).resolve().parent.parent)
        self._env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)
        self._stopping = False
        self.tool: ToolNode | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> list[list[Any]]:
        """Start every node and wait until all are in the GLD's directory; returns its rows."""
        self.say(f"starting {len(self.nodes)} nodes; logs in {self.run_dir}/")
        for node in self.nodes:
            logged = node.log_path.stat().st_size if node.log_path.exists() else 0
            node.start(self._env)
            self.say(f"  started {node.role:<12} node {node.node_id:<6} pid {node.process.pid}")
            if node.role == "gld":
                self._wait_ready(node, timeout, logged)
        self.tool = ToolNode(self.gld_address)
        rows = self.tool.wait_for_directory(timeout=timeout, min_nodes=len(self.nodes))
        for node in self.nodes:
            if not node.running:
                raise RuntimeError(f"{node.role} node {node.node_id} exited at start; see {node.log_path}")
        if len([r for r in rows if r[3]]) < len(self.nodes):
            missing = {n.node_id for n in self.nodes} - {int(r[0]) for r in rows}
            raise RuntimeError(f"nodes {sorted(missing)} did not register with the GLD in {timeout:g} s")
        self.say("cluster up:")
        for row in rows:
            node, role, address, _alive, extra = row
            listens = f"  clients at {extra['clients']}" if extra.get("clients") else ""
            if extra.get("metrics"):
                listens += f"  metrics at http://{extra['metrics']}/metrics"
            self.say(f"  {role:<12} node {node:<6} transport {address}{listens}")
        return rows

    def _wait_ready(self, node: NodeProcess, timeout: float, offset: int) -> None:
        """Wait for the node's "ready" line (after ``offset`` in its log): a peer that is not
        listening yet would be declared dead by the tool node's transport (2.5 s), which then
        never sends it anything."""
        end = time.monotonic() + timeout
        ready = f"node {node.role} {node.node_id} ready".encode()
        while time.monotonic() < end and node.running:
            with contextlib.suppress(OSError), open(node.log_path, "rb") as log:
                log.seek(offset)
                if ready in log.read():
                    return
            time.sleep(0.05)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM every node in reverse order, then SIGKILL what is left after ``grace`` s."""
        self._stopping = True
        if self.tool is not None:
            self.tool.close()
            self.tool = None
        for node in reversed(self.nodes):
            if node.running:
                node.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + grace
        for node in reversed(self.nodes):
            if node.process is None:
                continue
            try:
                node.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{node.role} node {node.node_id} ignored SIGTERM; killing it")
                node.process.kill()
                node.process.wait()
        self.say("cluster stopped")

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- watching -----------------------------------------------------------------------

    def check_processes(self) -> list[NodeProcess]:
        """Report nodes that exited and restart them when their backoff has passed."""
        now = time.monotonic()
        changed = []
        for node in self.nodes:
            if self._stopping or node.process is None:
                continue
            code = node.process.poll()
            if code is None:
                if now - node.started_at > 30 and node.backoff > 1:
                    node.backoff = 1.0  # it stayed up: forgive earlier crashes
                continue
            if node.next_start == 0.0:
                node.next_start = now + node.backoff
                self.say(f"\n{node.role} node {node.node_id} exited with status {code}; "
                         f"restarting in {node.backoff:g} s (log: {node.log_path})")
                changed.append(node)
            elif now >= node.next_start:
                node.restarts += 1
                node.backoff = min(node.backoff * 2, 30.0)
                node.next_start = 0.0
                node.start(self._env)
                self.say(f"\nrestarted {node.role} node {node.node_id} (restart {node.restarts})")
                changed.append(node)
        return changed

    def health(self) -> tuple[int, dict[int, dict[str, Any]]]:
        """(nodes running, status per node that answered)."""
        assert self.tool is not None
        self.tool.refresh_directory(timeout=0.5)
        statuses = self.tool.statuses(timeout=0.5)
        return sum(n.running for n in self.nodes), statuses

    def health_line(self) -> str:
        running, statuses = self.health()
        parts = [f"{running}/{len(self.nodes)} up"]
        for node in self.nodes:
            status = statuses.get(node.node_id)
            if status is None:
                parts.append(f"{node.role} -")
            else:
                parts.append(f"{node.role} p99 {status['tick_ms']['p99']:.1f}ms")
        return " | ".join(parts)

    def watch(self, seconds: float | None = None, *, live: Callable[[str], None] | None = None) -> None:
        """Supervise until stopped (or ``seconds`` pass), showing the health line each second."""
        assert self.tool is not None
        show = live or self._show
        end = None if seconds is None else time.monotonic() + seconds
        every = 1.0 if (live is not None or self.out.isatty()) else 5.0
        last_shown = float("-inf")
        while not self._stopping and (end is None or time.monotonic() < end):
            self.check_processes()
            if time.monotonic() - last_shown >= every:
                last_shown = time.monotonic()
                show(time.strftime("%H:%M:%S ") + self.health_line())
            self.tool.pump(0.25)

    def _show(self, line: str) -> None:
        if self.out.isatty():
            self.out.write("\r\x1b[2K" + line)
            self.out.flush()
        else:
            self.say(line)

    def request_stop(self, *_: object) -> None:
        self._stopping = True


LOCAL_LOGIN_LIMITS = ["--set", "login.address_burst=10000", "--set", "login.address_rate=1000"]
"""The local cluster's login node lets many logins come from one address: every player (and
``spenefett bots``) is on 127.0.0.1 here. A login node facing the internet keeps its stack's
per-address limit (docs/login.md)."""


def run_cluster(*, seconds: float | None = None, gld_port: int = 7100, run_dir: str = "var/cluster",
                ephemeral_ports: bool = False) -> int:
    cluster = Cluster(gld_port=gld_port, run_dir=run_dir, ephemeral_ports=ephemeral_ports,
                      extra_args={"login": LOCAL_LOGIN_LIMITS})
    signal.signal(signal.SIGTERM, cluster.request_stop)
    # Ctrl-C works even when the cluster was started in the background by a script, where
    # SIGINT arrives ignored from the parent shell.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    status = 0
    try:
        cluster.start()
        cluster.say("health (Ctrl-C stops the cluster):")
        cluster.watch(seconds)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        cluster.say(f"spenefett cluster: {exc}")
        status = 1
    if status == 0:
        cluster.say("")
    _shield_from_repeated_signals(cluster)
    cluster.stop()
    return status


def _shield_from_repeated_signals(cluster: Cluster) -> None:
    """Once stopping, a second Ctrl-C (a terminal sends it to the whole process group, and an
    impatient operator presses it twice) must not interrupt the orderly stop half-way."""
    signal.signal(signal.SIGINT, cluster.request_stop)
    signal.signal(signal.SIGTERM, cluster.request_stop)
