"""The public face of engine.protocol: every name exported once, internals private."""

from __future__ import annotations

import engine.protocol as protocol
from engine.protocol import NEED_DATA


def test_every_public_name_is_exported_exactly_once_and_exists():
    assert len(protocol.__all__) == len(set(protocol.__all__))
    for name in protocol.__all__:
        assert getattr(protocol, name) is not None, name
    public = {n for n in vars(protocol) if not n.startswith("_") and n[0].isupper()}
    assert public - {"Literal"} <= set(protocol.__all__)


def test_implementation_modules_are_private():
    modules = {n for n, v in vars(protocol).items() if type(v).__name__ == "module"}
    assert all(n.startswith("_") for n in modules), modules


def test_need_data_reads_as_its_name():
    assert "NEED_DATA" == repr(NEED_DATA)
