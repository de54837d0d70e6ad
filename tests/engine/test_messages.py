import pickle
from typing import Any

import pytest
from sample_messages import TBlob, TLook, TMove, TOp, TSight, TTalk

from engine.messages import Message, MessageDefinitionError, MessageRegistry


def test_a_message_is_its_wire_tuple():
    m = TMove(1, 2, 0.5, 3.4, 9.7)
    assert (900, 1, 2, 0.5, 3.4, 9.7) == tuple(m)
    assert (m.to, m.frm, m.x, m.y, m.z) == (1, 2, 0.5, 3.4, 9.7)
    assert m.payload() == (0.5, 3.4, 9.7)


def test_keywords_defaults_and_replace():
    t = TTalk(to=3, frm=4, text="hi")
    assert t.volume == 5
    louder = t.replace(volume=9, frm=8)
    assert (louder.volume, louder.frm, t.volume) == (9, 8, 5)
    assert type(louder) is TTalk
    with pytest.raises(TypeError):
        t.replace(colour="red")


def test_messages_are_immutable_and_picklable():
    m = TMove(1, 2, 0.0, 0.0, 0.0)
    with pytest.raises(AttributeError):
        m.x = 3.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(m)) == m


def test_inherited_fields_come_first_and_abstract_classes_cannot_be_built():
    assert [f.name for f in TLook.fields] == ["to", "frm", "serialno", "refno", "target"]
    with pytest.raises(TypeError, match="abstract"):
        TOp(1, 2, 3, 4)


def test_different_classes_with_equal_payloads_differ():
    class A(Message, type_id=940, registry=MessageRegistry()):
        n: int

    class B(Message, type_id=941, registry=MessageRegistry()):
        n: int

    assert A(1, 2, 3) != B(1, 2, 3)


def test_duplicate_type_id_is_an_error_at_definition():
    with pytest.raises(MessageDefinitionError, match="already taken by .*TMove"):
        class Clash(Message, type_id=900):
            n: int


def test_unsupported_field_type_is_an_error_at_definition():
    with pytest.raises(MessageDefinitionError, match="field type"):
        class Bad(Message, type_id=942, registry=MessageRegistry()):
            s: set


def test_field_without_default_after_one_with_default_is_refused():
    with pytest.raises(MessageDefinitionError, match="without a default"):
        class Bad(Message, type_id=943, registry=MessageRegistry()):
            a: int = 1
            b: int


def test_mutable_defaults_are_refused():
    with pytest.raises(MessageDefinitionError, match="mutable"):
        class Bad(Message, type_id=944, registry=MessageRegistry()):
            a: list = []  # noqa: RUF012


def test_repr_shows_guids_readably_and_nested_messages():
    s = TSight(1 << 48, 2, TMove(3, 4, 1.0, 2.0, 3.0), [5])
    text = repr(s)
    assert text.startswith("TSight(to=1:0:0, frm=0:0:2, what=TMove(")


def test_registry_lookup_by_id_and_bach_name():
    assert Message.registry.by_id(903) is TBlob
    assert Message.registry.by_name("t_sight") is TSight
    assert TBlob.fields[-1].type.describe() == "any | None"
    _ = Any
