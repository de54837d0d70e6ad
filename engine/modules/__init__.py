"""Modules: the units an Engine ticks, and the generic ones every node can use."""

from engine.dispatch import handles
from engine.modules._module import Module, ModuleState

__all__ = ["Module", "ModuleState", "handles"]
