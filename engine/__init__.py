"""Spenefett's game-agnostic core.

Guids address everything (:mod:`engine.guid`); typed messages
(:mod:`engine.messages`) travel through pipes (:mod:`engine.pipes`) between
modules (:mod:`engine.modules`) that an :class:`~engine.engine.Engine` ticks
in order; game objects live in ObjectSpaces (:mod:`engine.objectspace`).
Nothing here imports from ``gamelogic``, ``nodes`` or ``worldbuilder``.
"""
