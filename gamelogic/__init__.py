"""This game's rules: entity classes, operations, skills, combat, chat, NPC brains.

Free of I/O; built on ``engine`` and tested with ``engine.testing``.
"""
