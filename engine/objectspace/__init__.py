"""ObjectSpaces: synchronous calls inside one, asynchronous messages between them."""

from engine.objectspace._manager import ObjectSpaceManager
from engine.objectspace._object import GameObject
from engine.objectspace._space import CrossSpaceLookupError, ObjectSpace

__all__ = ["CrossSpaceLookupError", "GameObject", "ObjectSpace", "ObjectSpaceManager"]
