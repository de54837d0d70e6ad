"""``spenefett worldbuilder`` refuses what it cannot do with a sentence and status 2, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def spenefett(*args, env=None):
    return subprocess.run([sys.executable, "-m", "nodes.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_live_mode_needs_an_account_and_a_password():
    done = spenefett("worldbuilder", "--live", "127.0.0.1:7001", env={"SPENEFETT_PASSWORD": ""})
    assert 2 == done.returncode
    assert "--live needs --account and --password" in done.stderr
    done = spenefett("worldbuilder", "--live", "nowhere", "--account", "ann", "--password", "pw")
    assert (2, True) == (done.returncode, "HOST:PORT" in done.stderr)


def test_a_missing_world_file(tmp_path):
    done = spenefett("worldbuilder", str(tmp_path / "nope.toml"))
    assert 2 == done.returncode
    assert "cannot open" in done.stderr and "Traceback" not in done.stderr


def test_no_display_is_said_plainly(tmp_path):
    world = tmp_path / "w.toml"
    world.write_text("[world]\nname = \"w\"\n")
    done = spenefett("worldbuilder", str(world), env={"DISPLAY": ":31999"})
    assert 2 == done.returncode
    assert "cannot open a window" in done.stderr and "Traceback" not in done.stderr
    assert "[world]\nname = \"w\"\n" == world.read_text()
