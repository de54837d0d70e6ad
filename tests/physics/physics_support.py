"""A small world as messages: what a world owner sends a physics module."""

import math

import numpy as np

from engine.physics.messages import PhysicsAddBody, PhysicsStatics, PhysicsTerrain

WORLD = 3
GRID = 65
CELL = 2.0


def heights() -> np.ndarray:
    """Rolling hills, 128 m square, x fastest."""
    xs = np.arange(GRID) * CELL
    x, y = np.meshgrid(xs, xs)
    return (1.5 * np.sin(x / 13.0) * np.cos(y / 17.0)).astype(np.float32)


def scene_messages(to, frm, world=WORLD):
    """The terrain and a few walls."""
    return [
        PhysicsTerrain(to, frm, world, GRID, GRID, CELL, 0.0, 0.0, heights().tobytes()),
        PhysicsStatics(to, frm, world, [[1, 40.0, 64.0, 2.0, 0.5, 12.0, 3.0, 0.0],
                                        [2, 80.0, 30.0, 2.0, 6.0, 0.5, 3.0, math.pi / 6]], True),
    ]


def capsule(to, frm, entity, x, y, world=WORLD, **kw):
    return PhysicsAddBody(to, frm, world, entity, "capsule", float(x), float(y), 0.0, 0.4, 1.8, **kw)
