"""Make ``net_support`` importable under ``--import-mode=importlib``; run each test on both client I/Os."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import net_support  # noqa: E402

from engine.modules._client_io import THREAD_AVAILABLE  # noqa: E402

_MODES = ["io-thread", "io-inline"] if THREAD_AVAILABLE else ["io-inline"]


@pytest.fixture(autouse=True, params=_MODES)
def client_io_mode(request):
    """Every network test runs against the native I/O thread and against I/O inside the tick."""
    net_support.IO_THREAD = request.param == "io-thread"
    yield request.param
    net_support.IO_THREAD = True
