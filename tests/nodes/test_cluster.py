"""Real node processes on loopback: the cluster, liveness, relay through the GLD, clean stops."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sample_messages import TTalk

from engine.codec import encode
from engine.control import Relay
from engine.dispatch import handles
from engine.guid import WellKnown, module_guid
from engine.objectspace import GameObject
from nodes.cluster import SERVER_ROLES, Cluster
from nodes.runner import build, free_tcp_port, prepare
from nodes.tool import ToolNode

REPO = Path(__file__).resolve().parents[2]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(gld_port=free_tcp_port(), run_dir=tmp_path / "run", out=io.StringIO(),
                ephemeral_ports=True)
    try:
        c.start(timeout=30)
        yield c
    finally:
        c.stop()


def test_every_role_registers_and_answers_status(cluster):
    rows = cluster.tool.refresh_directory()
    assert {role for role, _ in SERVER_ROLES} == {r[1] for r in rows if r[3]}
    statuses = cluster.tool.statuses(timeout=5)
    assert {n for _, n in SERVER_ROLES} == set(statuses)
    for node, status in statuses.items():
        assert node == status["node"] and status["tick"] > 0
        assert "transport" in {m["name"] for m in status["modules"]}
    assert "6/6 up" in cluster.health_line()


def test_a_killed_node_is_reported_dead_within_3_s_and_restarted(cluster):
    ai = next(n for n in cluster.nodes if n.role == "ai")
    old_pid = ai.process.pid
    ai.process.kill()
    killed_at = time.monotonic()

    def ai_row():
        return next((r for r in cluster.tool.refresh_directory(timeout=0.3) if r[0] == ai.node_id), None)

    while time.monotonic() - killed_at < 10:
        row = ai_row()
        if row is not None and not row[3]:
            break
    reported_after = time.monotonic() - killed_at
    assert row is not None and not row[3], "the GLD never marked the killed node dead"
    assert reported_after <= 3.5, f"reported dead only after {reported_after:.1f} s"
    # the cluster notices the exit, waits its backoff and starts it again
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and ai.restarts == 0:
        cluster.check_processes()
        cluster.tool.pump(0.2)
    assert 1 == ai.restarts and ai.process.pid != old_pid
    assert cluster.tool.wait_for(lambda: (ai_row() or [0, 0, 0, False])[3], timeout=10)


def _sigterm_the_cluster(proc):
    proc.send_signal(signal.SIGTERM)


def _press_ctrl_c_twice(proc):
    """What a terminal does: SIGINT to the whole foreground process group, nodes included,
    and an impatient operator does it again while the cluster is stopping."""
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)


@pytest.mark.parametrize("stop", [_sigterm_the_cluster, _press_ctrl_c_twice],
                         ids=["sigterm", "ctrl-c-twice"])
def test_a_signal_stops_the_whole_cluster_cleanly_with_no_orphans(tmp_path, stop):
    port = free_tcp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nodes.cli", "cluster", "--gld-port", str(port), "--run-dir",
         str(tmp_path / "run"), "--ephemeral-ports"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    lines = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "health" in line or not line:
            break
    assert any("cluster up" in ln for ln in lines), "".join(lines)
    with ToolNode(f"tcp://127.0.0.1:{port}") as tool:
        pids = [s["pid"] for s in tool.statuses(
            [r[0] for r in tool.wait_for_directory(min_nodes=6)], timeout=5).values()
            if "pid" in s] or []
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                               text=True).stdout.split()]
    assert 6 == len(children)
    stop(proc)
    out, _ = proc.communicate(timeout=30)
    assert 0 == proc.returncode, out
    assert "cluster stopped" in out and "Traceback" not in out, out
    assert "ignored SIGTERM" not in out, out
    time.sleep(0.2)
    assert [] == [p for p in children + pids if _alive(p)]
    for log in (tmp_path / "run").glob("*.log"):
        text = log.read_text()
        assert "stopped after" in text and "Traceback" not in text, (log.name, text[-2000:])


class Inbox(GameObject):
    def __init__(self):
        super().__init__()
        self.heard = []

    @handles(TTalk)
    def on_talk(self, msg):
        self.heard.append(msg.text)


def test_a_message_crosses_gamelogic_to_gld_to_another_gamelogic_node(tmp_path):
    port = free_tcp_port()
    gld = subprocess.Popen([sys.executable, "-m", "nodes.cli", "node", "gld", "--id", "1",
                            "--listen", f"tcp://127.0.0.1:{port}", "--gld", f"tcp://127.0.0.1:{port}"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engines = []
    try:
        for node_id in (2001, 2002):
            spec = prepare("gamelogic", node_id, gld=f"tcp://127.0.0.1:{port}",
                           overrides={"net": {"port": 0}})
            engine = build(spec, node_id)
            engine.start()
            engines.append(engine)
        logic_a, logic_b = (e.module("logic") for e in engines)
        inbox = logic_b.spaces.create_space().add(Inbox())

        def pump(until, timeout=10):
            end = time.monotonic() + timeout
            while time.monotonic() < end and not until():
                for e in engines:
                    e.tick_once()
                time.sleep(0.005)
            return until()

        def gld_heard(engine):
            peer = engine.module("transport").peers().get(1) or {}
            return peer.get("alive") and peer.get("received", 0) > 0

        # both gamelogic nodes know the GLD (a node takes seconds to start); neither knows the other yet
        assert pump(lambda: all(gld_heard(e) for e in engines), timeout=60)
        talk = TTalk(inbox.guid, logic_a.guid, "via the GLD")  # a class the GLD does not know
        logic_a.send(Relay(module_guid(1, WellKnown.GLD), logic_a.guid, inbox.guid, encode(talk)))
        assert pump(lambda: inbox.heard == ["via the GLD"])
    finally:
        for e in engines:
            e.stop()
        gld.terminate()
        gld.wait(10)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["node", "wizard", "--id", "5"], "unknown role 'wizard'"),
        (["node", "gamelogic", "--id", "5"], "node id 5 is a gld id"),
        (["node", "gld", "--id", "1", "--stack", "nope.toml"], "cannot read stack file"),
    ],
)
def test_bad_node_invocations_exit_non_zero_before_starting(args, problem):
    result = subprocess.run([sys.executable, "-m", "nodes.cli", *args], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert 2 == result.returncode
    assert problem in result.stderr
    assert "ready" not in result.stdout


def test_a_bad_stack_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((REPO / "nodes" / "gld.toml").read_text().replace('kind = "gld"', 'kind = "gdl"'))
    result = subprocess.run([sys.executable, "-m", "nodes.cli", "node", "gld", "--id", "1", "--stack",
                             str(bad)], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert 2 == result.returncode
    line = bad.read_text().splitlines().index('kind = "gdl"') + 1
    assert f"bad.toml:{line}: module[2].kind: unknown module kind 'gdl'" in result.stderr
