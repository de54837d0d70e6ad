"""The module and filter kinds that stack files may name, for every role.

The node runner hands these tables to :mod:`engine.stack`; nothing is
imported from a string in a stack file.
"""

from __future__ import annotations

from engine.modules.agent import NodeAgent
from engine.modules.client_link import ClientLinkModule
from engine.modules.network import ClientFilter, NetworkModule
from engine.modules.physics import PhysicsModule
from engine.modules.transport import TransportModule
from engine.stack import FilterFactory, ModuleFactory, default_filter_kinds, default_module_kinds
from gamelogic.brain_host import BrainHost
from nodes.client.game import ClientGameModule
from nodes.client.input import InputModule
from nodes.client.render import RenderModule
from nodes.client.sound import SoundModule
from nodes.game_host import GameHost
from nodes.gld import GLDModule
from nodes.login import LoginModule
from nodes.persistence import PersistenceModule
from nodes.player_gate import PlayerGate


def module_kinds() -> dict[str, ModuleFactory]:
    kinds = default_module_kinds()
    for cls in (TransportModule, NodeAgent, NetworkModule, ClientLinkModule, GLDModule,
                PersistenceModule, LoginModule, PlayerGate, PhysicsModule, GameHost, BrainHost,
                ClientGameModule, InputModule, RenderModule, SoundModule):
        kinds[cls.kind] = cls
    return kinds


def filter_kinds() -> dict[str, FilterFactory]:
    kinds = default_filter_kinds()
    kinds["client"] = ClientFilter
    return kinds
