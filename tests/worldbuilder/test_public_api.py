"""worldbuilder's public names are exported once; the editing model needs no display and no window."""

import subprocess
import sys
from pathlib import Path

import worldbuilder

REPO = Path(__file__).resolve().parents[2]


def test_every_public_name_is_exported_exactly_once():
    assert len(worldbuilder.__all__) == len(set(worldbuilder.__all__))
    public = {n for n in vars(worldbuilder) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(worldbuilder, n)).__name__ == "module"}
    assert set(worldbuilder.__all__) == public - modules


def test_the_model_imports_without_pyglet_or_a_display():
    code = ("import sys, worldbuilder; from worldbuilder._editor import Editor; "
            "from worldbuilder._inspect import inspect; "
            "print(sorted(m for m in sys.modules if m == 'pyglet' or m.startswith('pyglet.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert 0 == done.returncode, done.stderr
    assert "[]" == done.stdout.strip()
