"""World files: the text a designer's world lives in, read forgivingly and written stably.

A world file is TOML: a ``[world]`` table, a ``[terrain]`` table and one
``[[entity]]`` block per entity. An entity block has ``id`` (unique, stable
across edits), ``class`` (from the class tree), ``pos = [x, y]`` (the
ground height is the terrain's), optional ``yaw`` (degrees), and any other
key overrides a property of its class::

    [[entity]]
    id = "village.inn"
    class = "building"
    pos = [200.0, 210.0]
    size = [14.0, 10.0]

Reading never gives up on a broken file: each block is parsed on its own,
so one bad block costs that block only, and every problem comes back with
its line (:func:`load_world`). Writing (:func:`dumps_world`) puts the
blocks in id order with keys in a fixed order, so a saved file diffs well
and saving twice changes nothing. :func:`validate` checks what the rules
need: known classes, typed properties, entities inside the world, solid
things not overlapping, doors in walls.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from gamelogic.classes import ClassTree
from gamelogic.terrain import Hill, Terrain

DEMO_WORLD = Path(__file__).with_name("demo_world.toml")
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z_][\w.]*)\s*\]\]?\s*(#.*)?$")
_ENTITY_KEYS = ("id", "class", "pos", "yaw")


@attrs.define
class WorldEntity:
    """One placed entity: where it is, what it is, what it overrides."""

    id: str
    cls: str
    pos: tuple[float, float]
    yaw: float = 0.0
    props: dict[str, Any] = attrs.field(factory=dict)
    line: int = 0
    """The line of its ``[[entity]]`` header in the file it came from (0: not from a file)."""


@attrs.frozen
class Problem:
    """Something wrong with a world file, and where."""

    line: int
    message: str
    entity: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "world"
        return f"{where}: {self.message}"


@attrs.define
class WorldFile:
    """A world: its extent, its terrain description and its entities."""

    name: str = "untitled"
    size: tuple[float, float] = (512.0, 512.0)
    seed: int = 1
    cell_size: float = 8.0
    base: float = 0.0
    hills: list[Hill] = attrs.field(factory=list)
    entities: list[WorldEntity] = attrs.field(factory=list)

    def terrain(self) -> Terrain:
        return Terrain(self.size[0], self.size[1], self.cell_size, self.base, self.hills)

    def entity(self, entity_id: str) -> WorldEntity | None:
        for e in self.entities:
            if e.id == entity_id:
                return e
        return None

    def of_class(self, tree: ClassTree, ancestor: str) -> list[WorldEntity]:
        return [e for e in self.entities if tree.is_a(e.cls, ancestor)]

    def new_id(self, stem: str) -> str:
        """An id not yet used: ``stem``, ``stem.2``, ``stem.3`` ..."""
        used = {e.id for e in self.entities}
        if stem not in used:
            return stem
        n = 2
        while f"{stem}.{n}" in used:
            n += 1
        return f"{stem}.{n}"


# -- reading ---------------------------------------------------------------------------


def load_world(source: str | Path) -> tuple[WorldFile, list[Problem]]:
    """Read a world file (a path, or the text itself if it contains a newline).

    Returns what could be read and every problem found while reading; it
    raises only OSError for a file that cannot be opened.
    """
    text = source if isinstance(source, str) and "\n" in source else Path(source).read_text()
    return loads_world(text)


def loads_world(text: str) -> tuple[WorldFile, list[Problem]]:
    world = WorldFile()
    problems: list[Problem] = []
    for name, line, body in _blocks(text):
        try:
            data = tomllib.loads(body)
        except tomllib.TOMLDecodeError as exc:
            problems.append(Problem(line + _error_line(exc), f"not valid TOML: {exc}"))
            continue
        if name == "world":
            _read_world(world, data.get("world", {}), line, problems)
        elif name == "terrain":
            _read_terrain(world, data.get("terrain", {}), line, problems)
        elif name == "entity":
            for raw in data.get("entity", []):
                entity = _read_entity(raw, line, problems)
                if entity is not None:
                    world.entities.append(entity)
        elif name is not None:
            problems.append(Problem(line, f"unknown table [{name}]; expected world, terrain or entity"))
        elif body.strip() and tomllib.loads(body):
            problems.append(Problem(line, "keys before the first table are ignored"))
    return world, problems


def _blocks(text: str) -> Iterable[tuple[str | None, int, str]]:
    """(table name, first line, text) of each top-level table; sub-tables stay with their parent."""
    current: str | None = None
    start = 1
    lines: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        m = _HEADER.match(raw)
        if m and "." not in m.group(1):
            if lines:
                yield current, start, "\n".join(lines)
            current, start, lines = m.group(1), number, []
        lines.append(raw)
    if lines:
        yield current, start, "\n".join(lines)


def _error_line(exc: tomllib.TOMLDecodeError) -> int:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) - 1 if m else 0


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list) and len(value) in (2, 3) and all(_number(v) for v in value):
        return float(value[0]), float(value[1])
    return None


def _read_world(world: WorldFile, data: dict[str, Any], line: int, problems: list[Problem]) -> None:
    world.name = str(data.get("name", world.name))
    size = _pair(data.get("size", list(world.size)))
    if size is None or min(size) <= 0:
        problems.append(Problem(line, f"world size must be [width, depth] > 0, got {data.get('size')!r}"))
    else:
        world.size = size
    seed = data.get("seed", world.seed)
    if isinstance(seed, int) and not isinstance(seed, bool):
        world.seed = seed
    else:
        problems.append(Problem(line, f"world seed must be a whole number, got {seed!r}"))


def _read_terrain(world: WorldFile, data: dict[str, Any], line: int, problems: list[Problem]) -> None:
    cell = data.get("cell_size", world.cell_size)
    if _number(cell) and cell > 0:
        world.cell_size = float(cell)
    else:
        problems.append(Problem(line, f"terrain cell_size must be a number > 0, got {cell!r}"))
    base = data.get("base", world.base)
    if _number(base):
        world.base = float(base)
    else:
        problems.append(Problem(line, f"terrain base must be a number, got {base!r}"))
    for raw in data.get("hills", []):
        at = _pair(raw.get("at")) if isinstance(raw, dict) else None
        radius = raw.get("radius") if isinstance(raw, dict) else None
        height = raw.get("height") if isinstance(raw, dict) else None
        if at is None or not _number(radius) or radius <= 0 or not _number(height):
            problems.append(Problem(line, f"a hill needs at = [x, y], radius > 0 and height: {raw!r}"))
            continue
        world.hills.append(Hill(at, radius, height))


def _read_entity(raw: Any, line: int, problems: list[Problem]) -> WorldEntity | None:
    entity_id = raw.get("id")
    if not isinstance(entity_id, str) or not entity_id:
        problems.append(Problem(line, "an entity needs an id (text)"))
        return None
    cls = raw.get("class")
    if not isinstance(cls, str) or not cls:
        problems.append(Problem(line, f"entity {entity_id!r} needs a class", entity_id))
        return None
    pos = _pair(raw.get("pos"))
    if pos is None:
        problems.append(Problem(line, f"entity {entity_id!r}: pos must be [x, y], got {raw.get('pos')!r}",
                                entity_id))
        return None
    yaw = raw.get("yaw", 0.0)
    if not _number(yaw):
        problems.append(Problem(line, f"entity {entity_id!r}: yaw must be a number, got {yaw!r}", entity_id))
        yaw = 0.0
    props = {k: v for k, v in raw.items() if k not in _ENTITY_KEYS}
    return WorldEntity(entity_id, cls, pos, float(yaw), props, line)


# -- writing ---------------------------------------------------------------------------


def dumps_world(world: WorldFile) -> str:
    """The world as TOML: fixed key order, entities sorted by id, one block each."""
    out = [f"[world]\nname = {_value(world.name)}\nsize = {_value(list(world.size))}\n"
           f"seed = {world.seed}\n",
           f"[terrain]\ncell_size = {_value(world.cell_size)}\nbase = {_value(world.base)}"]
    if world.hills:
        out[-1] += "\nhills = [\n" + "".join(
            f"  {{ at = {_value(list(h.at))}, radius = {_value(h.radius)}, height = {_value(h.height)} }},\n"
            for h in world.hills) + "]"
    out[-1] += "\n"
    for e in sorted(world.entities, key=lambda e: e.id):
        block = [f"[[entity]]\nid = {_value(e.id)}\nclass = {_value(e.cls)}\npos = {_value(list(e.pos))}"]
        if e.yaw:
            block.append(f"yaw = {_value(e.yaw)}")
        block += [f"{_key(k)} = {_value(e.props[k])}" for k in sorted(e.props)]
        out.append("\n".join(block) + "\n")
    return "\n".join(out)


def save_world(world: WorldFile, path: str | Path) -> None:
    """Write atomically: a crash mid-save leaves the old file whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps_world(world))
    tmp.replace(path)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _value(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a world file cannot hold {value!r}")
        text = repr(round(value, 6))
        return text if ("." in text or "e" in text) else text + ".0"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"a world file cannot hold {type(value).__name__}")


# -- checking --------------------------------------------------------------------------


def validate(world: WorldFile, tree: ClassTree) -> list[Problem]:
    """Everything the game would trip over: each problem names the entity's line."""
    from gamelogic.stage import Stage  # the stage reads validated entities; it checks doors and walls

    problems: list[Problem] = []
    seen: dict[str, WorldEntity] = {}
    good: list[WorldEntity] = []
    width, depth = world.size
    for e in world.entities:
        if e.id in seen:
            problems.append(Problem(e.line, f"id {e.id!r} is used twice (first at line {seen[e.id].line})",
                                    e.id))
            continue
        seen[e.id] = e
        if e.cls not in tree:
            problems.append(Problem(e.line, f"{e.id}: unknown class {e.cls!r}", e.id))
            continue
        bad = tree.check_properties(e.cls, e.props)
        problems += [Problem(e.line, f"{e.id}: {p}", e.id) for p in bad]
        x, y = e.pos
        if not (0 <= x <= width and 0 <= y <= depth):
            problems.append(Problem(e.line, f"{e.id} at ({x:g}, {y:g}) is outside the world "
                                            f"(0..{width:g}, 0..{depth:g})", e.id))
            continue
        if not bad:
            good.append(e)
    stage = Stage(good, tree)
    problems += stage.problems
    problems += _overlaps(good, tree, stage)
    return sorted(problems, key=lambda p: (p.line, p.message))


def _overlaps(entities: list[WorldEntity], tree: ClassTree, stage: Any) -> list[Problem]:
    """Solid structures (trees, rocks, buildings) may not overlap one another."""
    solid = [(e, tree.properties(e.cls, e.props)) for e in entities
             if tree.is_a(e.cls, "structure") and not tree.is_a(e.cls, "door")]
    solid = [(e, p) for e, p in solid if p.get("solid", True)]
    # sweep along x: only footprints whose x spans meet are compared (not every pair: 5,000 trees
    # took seconds, and the worldbuilder validates after every edit)
    boxes = sorted((_footprint(e, p), i) for i, (e, p) in enumerate(solid))
    active: list[tuple[tuple[float, float, float, float], int]] = []
    pairs = []
    for box, j in boxes:
        bx0, by0, bx1, by1 = box
        active = [(a, i) for a, i in active if a[2] > bx0]
        for (ax0, ay0, ax1, ay1), i in active:
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                pairs.append((min(i, j), max(i, j)))
        active.append((box, j))
    problems = []
    for i, j in sorted(pairs):
        a, b = solid[i][0], solid[j][0]
        problems.append(Problem(b.line, f"{b.id} overlaps {a.id} (line {a.line})", b.id))
    return problems


def _footprint(e: WorldEntity, props: dict[str, Any]) -> tuple[float, float, float, float]:
    x, y = e.pos
    if "size" in props:
        hx, hy = props["size"][0] / 2, props["size"][1] / 2
    else:
        hx = hy = float(props.get("radius", 0.5))
    return x - hx, y - hy, x + hx, y + hy
