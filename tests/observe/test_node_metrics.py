"""A node's metrics server: where it listens, and that a busy port never stops the node."""

import signal
import socket
import subprocess
import sys

from observe_support import REPO, sample, scrape

from nodes.runner import free_tcp_port


def _start_gld(stack, *extra):
    port = free_tcp_port()
    proc = subprocess.Popen([sys.executable, "-m", "nodes.cli", "node", "gld", "--id", "1", "--stack",
                             str(stack), "--gld", f"tcp://127.0.0.1:{port}", *extra], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "ready" in line or "spenefett node:" in line:
            break
    return proc, "".join(lines)


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)


def test_a_busy_stack_port_moves_metrics_to_a_free_one_and_the_node_serves(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        stack = tmp_path / "gld.toml"
        text = (REPO / "nodes" / "gld.toml").read_text()
        stack.write_text(text.replace("port = 9100", f"port = {busy}"))
        proc, out = _start_gld(stack)
        try:
            assert f"metrics port {busy} is in use" in out
            ready = next(line for line in out.splitlines() if "ready" in line)
            address = ready.split("metrics=http://")[1].split("/")[0]
            assert not address.endswith(f":{busy}")
            assert 1 == sample(scrape(address), "spenefett_node_info", node="1", role="gld")
        finally:
            _stop(proc)


def test_an_explicit_metrics_port_that_is_busy_is_an_error(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        proc, out = _start_gld(REPO / "nodes" / "gld.toml", "--metrics-port", str(busy))
        proc.wait(15)
        assert 2 == proc.returncode
        assert "cannot serve metrics" in out


def test_a_bad_metrics_table_names_the_key(tmp_path):
    stack = tmp_path / "gld.toml"
    stack.write_text((REPO / "nodes" / "gld.toml").read_text().replace("port = 9100", 'port = "x"'))
    proc, out = _start_gld(stack)
    proc.wait(15)
    assert 2 == proc.returncode and "metrics.port: must be a port number" in out
