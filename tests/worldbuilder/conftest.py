"""Fixtures for the worldbuilder tests: the demo world as a document, and an X display (Xvfb) for the GUI.

The display is started once per session on a number Xvfb picks itself
(``-displayfd``), so parallel sessions on one machine do not collide, and
``DISPLAY`` is set before pyglet's window module is imported (importing it
opens the display). If pyglet's window module is already imported (another
suite's fixture made a display), that display is used.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gamelogic.classes import ClassTree
from gamelogic.worldfile import DEMO_WORLD
from worldbuilder import Document

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def tree():
    return ClassTree.load()


@pytest.fixture
def demo_text():
    return DEMO_WORLD.read_text()


@pytest.fixture
def doc(tree, demo_text, tmp_path):
    """The demo world, as if opened from a copy in the test's own folder."""
    path = tmp_path / "greenhollow.toml"
    path.write_text(demo_text)
    return Document.from_text(demo_text, tree, path=path)


@pytest.fixture(scope="session")
def x_display():
    """An X display for pyglet: a private Xvfb (apt-get install xvfb libgl1-mesa-dri)."""
    if "pyglet.window" in sys.modules:
        yield os.environ.get("DISPLAY", "")
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("the GUI tests need Xvfb: apt-get install xvfb libgl1-mesa-dri")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "1400x1000x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_end)
    number = b""
    with os.fdopen(read_end, "rb") as pipe:  # Xvfb writes the display number once it is ready
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                break
            number += chunk
    if not number.strip():
        proc.kill()
        pytest.fail("Xvfb did not start")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number.decode().strip()}"
    try:
        yield os.environ["DISPLAY"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
