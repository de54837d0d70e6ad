"""The windowed client under Xvfb: scripted keys through the real window, screenshots, the server's answers.

The client runs in its own process (``window_driver.py``) on the test's
virtual display, so pyglet's display is never shared with other tests.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def drive(scenario, login, out, display):
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    done = subprocess.run([sys.executable, str(HERE / "window_driver.py"), scenario, login, str(out)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    shots = {p.stem: np.load(p) for p in out.glob("*.npy")}
    return report, shots, done.stderr


def colour_share(image, rgb, tolerance=40):
    """The share of pixels within ``tolerance`` of ``rgb``."""
    return float(np.mean(np.all(np.abs(image.astype(int) - rgb) <= tolerance, axis=2)))


def changed(a, b):
    """Mean absolute difference of two screenshots, 0..255."""
    return float(np.mean(np.abs(a.astype(int) - b.astype(int))))


@pytest.fixture(scope="module")
def played(game_cluster, xvfb, tmp_path_factory):
    return drive("play", game_cluster.login_address, tmp_path_factory.mktemp("window"), xvfb)


def test_the_screens_lead_from_login_through_characters_into_the_world(played):
    report, shots, _ = played
    steps = report["steps"]
    assert steps["login"]["phase"] == "login" and steps["login"]["error"] == ""
    assert steps["characters_empty"]["phase"] == "characters"
    assert len(steps["characters"]["characters"]) == 1
    assert steps["world"]["phase"] == "world" and steps["world"]["me"]
    # typing shows: the account field filled in
    assert changed(shots["login"], shots["login_typed"]) > 0.1
    # the world is mostly terrain green and sky, the login screen is not
    grass = (90, 150, 60)
    assert colour_share(shots["world"], grass, 60) > 0.25
    assert colour_share(shots["login"], grass, 60) < 0.05


def test_walking_moves_the_player_on_the_server_and_on_screen(played):
    report, shots, _ = played
    before = np.array(report["steps"]["world"]["server_position"] or report["steps"]["world"]["position"])
    after = np.array(report["steps"]["walked"]["server_position"])
    assert np.hypot(*(after[:2] - before[:2])) > 3.0
    assert changed(shots["world"], shots["walked"]) > 2.0


def test_targeting_a_pig_shows_its_plate_and_attacking_hits_it(played):
    report, shots, _ = played
    steps = report["steps"]
    assert steps["targeted"]["target_class"] == "pig"
    assert steps["targeted"]["clicked"] > 0, "a click on a plate targets its entity"
    yellow = (255, 230, 90)  # the target's plate and the target panel
    assert colour_share(shots["targeted"], yellow, 30) > colour_share(shots["before_target"], yellow, 30)
    assert steps["fought"]["hit"], steps["fought"]["log"]
    assert any(line.startswith("You hit") for line in steps["fought"]["log"])


def test_talk_and_global_chat_come_back_from_the_server(played):
    report, _, _ = played
    log = report["steps"]["chatted"]["log"]
    assert any(line == "You: hello from the window" for line in log)
    assert any(line.startswith("[global] ") and "global" in line for line in log)


def test_leaving_returns_to_the_character_screen_and_nothing_failed(played):
    report, _, _ = played
    assert report["steps"]["left"]["phase"] == "characters"
    assert report["module_errors"] == {"link": 0, "input": 0, "game": 0, "render": 0, "sound": 0}
    assert report["counts"].get("unknown_entity", 0) == 0


def _garbage_server():
    """A TCP server that answers every connection with a frame of garbage."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(b"\x00\x00\x00\x08garbage!")
                    conn.recv(1024)
                except OSError:
                    pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, stop, thread


def test_a_server_that_sends_garbage_is_an_error_on_screen_not_a_crash(xvfb, tmp_path):
    server, stop, thread = _garbage_server()
    try:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        report, shots, _ = drive("bad_server", address, tmp_path, xvfb)
    finally:
        stop.set()
        server.close()
        thread.join(2)
    step = report["steps"]["refused"]
    assert "login server" in step["error"] and step["phase"] in ("offline", "login")
    assert colour_share(shots["refused"], (255, 90, 80), 30) > 0  # the error, in red
    assert report["module_errors"] == {"link": 0, "input": 0, "game": 0, "render": 0, "sound": 0}


def test_odd_world_messages_are_drawn_around_not_crashed_on(xvfb, tmp_path):
    from nodes.runner import free_tcp_port

    report, shots, _ = drive("bad_world", f"127.0.0.1:{free_tcp_port()}", tmp_path, xvfb)
    counts = report["counts"]
    assert counts["unknown_class"] == 1 and counts["unknown_entity"] >= 2
    assert counts["bad_sight"] == 1 and counts["bad_moves"] >= 2
    assert report["steps"]["odd"]["dragon"] == "dragon"
    assert changed(shots["plain"], shots["odd"]) > 0.05  # the dragon is drawn (a grey box), and its hit
    assert report["module_errors"] == {"link": 0, "input": 0, "game": 0, "render": 0, "sound": 0}
