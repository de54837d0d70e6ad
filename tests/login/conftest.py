"""Fixtures for the login tests; ``login_support`` importable under ``--import-mode=importlib``."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from login_support import LoginCluster  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    c = LoginCluster(tmp_path_factory.mktemp("login"))
    try:
        yield c.start()
    finally:
        c.stop()
