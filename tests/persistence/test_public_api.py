"""The package's public names: each exported once, and the messages inside their id range."""

import engine.persistence as persistence
from engine.messages import REGISTRY
from engine.persistence import messages


def test_every_public_name_is_exported_exactly_once():
    assert len(persistence.__all__) == len(set(persistence.__all__))
    for name in persistence.__all__:
        assert getattr(persistence, name) is not None
    public = {n for n in vars(persistence) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(persistence, n)).__name__ == "module"}
    assert set(persistence.__all__) == public - modules


def test_persistence_messages_use_only_their_engine_type_ids():
    classes = [c for c in vars(messages).values()
               if isinstance(c, type) and c.__module__ == messages.__name__]
    assert classes
    for cls in classes:
        assert messages.FIRST_TYPE_ID <= cls.type_id <= messages.LAST_TYPE_ID
        assert REGISTRY.by_id(cls.type_id) is cls
