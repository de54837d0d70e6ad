"""Make ``region`` and the login tests' ``login_support`` importable under ``--import-mode=importlib``."""

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (_HERE, _HERE.parent / "login"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from login_support import LoginCluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Every server role as a process, on a SQLite file of its own, the demo world loaded."""
    c = LoginCluster(tmp_path_factory.mktemp("game"))
    try:
        yield c.start()
    finally:
        c.stop()
