"""Physics on pybullet: terrain, static boxes, kinematic capsules, projectiles, loose bodies.

:class:`PhysicsScene` is one world, sans-IO: it takes the scene, bodies and
intents as plain values and steps when told. The module that serves worlds
by message is :class:`engine.modules.physics.PhysicsModule`; the messages
are in :mod:`engine.physics.messages`. See docs/physics.md.

>>> import numpy as np
>>> scene = PhysicsScene(SceneConfig())
>>> scene.set_terrain(nx=3, ny=3, cell_size=10.0, origin=(0.0, 0.0), heights=np.full(9, 2.0))
>>> scene.add_body(entity=7, owner=1, kind="capsule", pos=(5.0, 5.0, 0.0), radius=0.4, height=1.8)
>>> scene.step().poses[1]
[[7, 5.0, 5.0, 2.0, True]]
>>> scene.close()
"""

from engine.physics._checks import BodyRefused
from engine.physics._config import SceneConfig, SceneError
from engine.physics._scene import PhysicsScene, StepResult

__all__ = ["BodyRefused", "PhysicsScene", "SceneConfig", "SceneError", "StepResult"]
