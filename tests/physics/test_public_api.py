"""engine.physics's public names, its message ids, and the split stack kept in step with gamelogic.toml."""

import tomllib
from pathlib import Path

import engine.physics as physics
from engine.messages import REGISTRY
from engine.physics import messages

NODES = Path(__file__).resolve().parents[2] / "nodes"


def test_every_public_name_is_exported_exactly_once():
    assert len(physics.__all__) == len(set(physics.__all__))
    public = {n for n in vars(physics) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(physics, n)).__name__ == "module"}
    assert set(physics.__all__) == public - modules
    defined = {n for n, v in vars(messages).items() if getattr(v, "__module__", None) == messages.__name__}
    assert set(messages.__all__) == defined | {"BODY_KINDS"}


def test_physics_messages_use_only_their_engine_type_ids():
    classes = [c for c in vars(messages).values()
               if isinstance(c, type) and c.__module__ == messages.__name__]
    assert 13 == len(classes)
    for cls in classes:
        assert 150 <= cls.type_id <= 169
        assert REGISTRY.by_id(cls.type_id) is cls


def test_the_split_stack_is_the_in_process_one_without_physics_and_pointing_at_the_physics_node():
    inproc = tomllib.loads((NODES / "gamelogic.toml").read_text())
    split = tomllib.loads((NODES / "gamelogic-split.toml").read_text())
    physics_names = {m["name"] for m in inproc["module"] if m["kind"] == "physics"}
    assert physics_names and not any(m["kind"] == "physics" for m in split["module"])
    talkers = {p["from"] for p in inproc["pipe"] if p["to"] in physics_names} - {"transport"}
    for m in split["module"]:
        if m["name"] in talkers:
            assert 11000 == m["settings"].pop("physics_node")
    assert [m for m in inproc["module"] if m["name"] not in physics_names] == split["module"]
    assert [p for p in inproc["pipe"] if not {p["from"], p["to"]} & physics_names] == split["pipe"]
    assert {k: v for k, v in inproc.items() if k not in ("module", "pipe")} == \
        {k: v for k, v in split.items() if k not in ("module", "pipe")}
    physics_node = tomllib.loads((NODES / "physics.toml").read_text())
    assert {"physics"} == {m["kind"] for m in physics_node["module"]} & {"physics"}
