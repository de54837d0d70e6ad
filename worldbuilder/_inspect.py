"""What the inspector shows for a selection: every property, its value, and where the value comes from.

One row per property: the value as field text, and its source, either
``override`` (the entity sets it) or ``from <class>`` (inherited from the
nearest class in its ancestry that sets it). A selection of several
entities shows the properties they share; values that differ show as
``(mixed)``::

    rows = inspect(doc, ["village.inn"])
    next(r for r in rows if r.key == "size")    # Row('size', '16, 10', 'override', True, True)
    next(r for r in rows if r.key == "height")  # Row('height', '4', 'from building', False, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from worldbuilder._document import Document
from worldbuilder._fields import format_field

MIXED = "(mixed)"


@attrs.frozen
class Row:
    key: str
    text: str
    source: str
    overridden: bool
    editable: bool


def inspect(doc: Document, ids: Sequence[str]) -> list[Row]:
    """The inspector's rows for the entities ``ids`` (empty for none)."""
    entities = [e for i in ids if (e := doc.entity(i)) is not None]
    if not entities:
        return []
    rows: list[Row] = []
    if len(entities) == 1:
        e = entities[0]
        rows.append(Row("id", e.id, "", False, False))
        rows.append(Row("class", e.cls, " < ".join(doc.tree.ancestry(e.cls)[1:]) if e.cls in doc.tree
                        else "unknown class", False, False))
        rows.append(Row("pos", format_field([e.pos[0], e.pos[1]]), "", False, True))
    else:
        classes = sorted({e.cls for e in entities})
        rows.append(Row("selected", f"{len(entities)} entities", ", ".join(classes)[:60], False, False))
    rows.append(Row("yaw", _shared([e.yaw for e in entities]), "", False, True))
    keys = _shared_keys(doc, entities)
    for key in keys:
        values = [doc.props_of(e).get(key) for e in entities]
        over = [key in e.props for e in entities]
        if all(over):
            source = "override"
        elif not any(over):
            owners = {doc.tree.defined_by(e.cls, key) if e.cls in doc.tree else None for e in entities}
            source = f"from {owners.pop()}" if len(owners) == 1 else "inherited"
        else:
            source = "override (some)"
        editable = all(e.cls in doc.tree for e in entities)
        rows.append(Row(key, _shared(values), source, any(over), editable))
    return rows


def _shared_keys(doc: Document, entities: list[Any]) -> list[str]:
    """Property keys every entity has, in the first entity's class-file order."""
    order: list[str] | None = None
    common: set[str] | None = None
    for e in entities:
        keys = list(doc.props_of(e))
        order = order if order is not None else keys
        common = set(keys) if common is None else common & set(keys)
    return [k for k in (order or []) if k in (common or set())]


def _shared(values: list[Any]) -> str:
    first = values[0]
    if all(v == first and type(v) is type(first) for v in values[1:]):
        return format_field(first) if first is not None else ""
    return MIXED


def inspect_live(doc: Document, entity: Any) -> list[Row]:
    """Rows for a live entity (a :class:`~worldbuilder.LiveEntity`): what the server says it is."""
    rows = [Row("guid", str(entity.guid), "", False, False),
            Row("id", entity.id or "(none)", "world id" if entity.id else "not in the world file",
                False, False),
            Row("class", entity.cls, "", False, False),
            Row("name", entity.name, "", False, False),
            Row("pos", format_field([entity.pos[0], entity.pos[1]]), f"z {entity.pos[2]:.1f}", False, True),
            Row("yaw", format_field(entity.yaw), "", False, True),
            Row("health", f"{entity.health} / {entity.max_health}", "", False, False)]
    known = entity.cls in doc.tree
    props = doc.tree.properties(entity.cls, entity.props) if known else dict(entity.props)
    for key, value in props.items():
        over = key in entity.props
        source = "live" if over else (f"from {doc.tree.defined_by(entity.cls, key)}" if known else "")
        rows.append(Row(key, format_field(value), source, over, known))
    return rows
