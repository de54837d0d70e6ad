"""Validation the editor runs after every edit: overlaps found by a sweep, the same as every pair."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gamelogic.worldfile import WorldEntity, WorldFile, validate

coord = st.floats(0, 60, allow_nan=False)
entity = st.tuples(st.sampled_from(["tree", "rock", "building", "pig", "spawner", "door"]), coord, coord,
                   st.floats(0.1, 12, allow_nan=False), st.floats(0.1, 12, allow_nan=False), st.booleans())


def _world(rows):
    world = WorldFile(size=(60.0, 60.0))
    for n, (cls, x, y, w, d, overridden) in enumerate(rows):
        props = {}
        if overridden and cls == "building":
            props = {"size": [w, d]}
        elif overridden and cls in ("tree", "rock"):
            props = {"radius": w / 2}
        world.entities.append(WorldEntity(f"e{n:03d}", cls, (x, y), 0.0, props, line=10 * n + 1))
    return world


def _every_pair(world, tree):
    """The reference: every pair of solid structures compared."""
    solid = []
    for e in world.entities:
        if tree.is_a(e.cls, "structure") and not tree.is_a(e.cls, "door"):
            p = tree.properties(e.cls, e.props)
            hx, hy = (p["size"][0] / 2, p["size"][1] / 2) if "size" in p else (p["radius"], p["radius"])
            solid.append((e, (e.pos[0] - hx, e.pos[1] - hy, e.pos[0] + hx, e.pos[1] + hy)))
    found = set()
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(solid):
        for b, (bx0, by0, bx1, by1) in solid[i + 1:]:
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                found.add((b.line, f"{b.id} overlaps {a.id} (line {a.line})"))
    return found


@settings(max_examples=60, deadline=None)
@given(st.lists(entity, max_size=40))
def test_overlaps_are_the_pairs_that_touch(tree, rows):
    world = _world(rows)
    found = {(p.line, p.message) for p in validate(world, tree) if "overlaps" in p.message}
    assert _every_pair(world, tree) == found

