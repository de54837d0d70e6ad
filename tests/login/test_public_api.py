"""engine.login's public names: each exported once; its messages inside their id range."""

import tomllib
from pathlib import Path

import engine.login as login
from engine.login import messages
from engine.messages import REGISTRY
from gamelogic.operations import CLIENT_ACTIONS


def test_every_public_name_is_exported_exactly_once():
    assert len(login.__all__) == len(set(login.__all__))
    public = {n for n in vars(login) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(login, n)).__name__ == "module"}
    assert set(login.__all__) == public - modules


def test_login_messages_use_only_their_engine_type_ids():
    classes = [c for c in vars(messages).values()
               if isinstance(c, type) and c.__module__ == messages.__name__]
    assert len(classes) >= 20
    for cls in classes:
        assert messages.FIRST_TYPE_ID <= cls.type_id <= messages.LAST_TYPE_ID
        assert REGISTRY.by_id(cls.type_id) is cls


def test_clients_may_send_only_requests_and_the_stacks_agree():
    nodes = Path(__file__).resolve().parents[2] / "nodes"
    world = messages.CLIENT_TO_WORLD + CLIENT_ACTIONS  # the login flow's, then the demo game's
    stacks = (("login.toml", messages.CLIENT_TO_LOGIN), ("gamelogic.toml", world),
              ("gamelogic-split.toml", world))
    for stack, allowed in stacks:
        spec = tomllib.loads((nodes / stack).read_text())
        (pipe,) = [p for p in spec["pipe"] if p["from"] == "net"]
        assert sorted(c.type_id for c in allowed) == sorted(pipe["filters"][0]["allow"])
