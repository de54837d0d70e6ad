"""Messages of the login flow (engine type ids 350..399).

Three conversations, each request answered to its sender:

- **client <-> login node** (350..369). The client sends the ``*Request``
  messages; the login node answers ``LoginOk`` (after a password login or a
  reconnect with a resume token in the handshake), ``CharacterList``,
  ``GoTo`` (where to connect to enter the world, and with which one-time
  token) or ``Refused`` (which request, and why, in words for a person).
- **login node <-> GLD <-> gamelogic node** (370..379). ``PlacePlayer``
  asks the GLD to place a character; the GLD tells a gamelogic node to
  ``ExpectPlayer`` and answers ``PlayerPlaced`` once it acknowledged.
  ``DropPlayer`` makes a node save and drop an account's character (a
  second login takes over); ``PlayerLeft`` tells the GLD a player is gone.
  ``LeaveWorld`` (answered ``WorldLeft``) does the same before a character
  is deleted, so no late save brings its entity back.
- **client <-> gamelogic node** (380..399): ``EnteredWorld`` names the
  avatar; ``SetPosition``, ``Train`` and ``Logout`` are what a client may
  send there; ``AvatarState`` echoes the character after a change.

::

    link.send(LoginRequest(0, 0, "ann", "correct horse battery"))
    # ... LoginOk(account_id=7, resume_token="...", characters=[[3, "Ann"]])
    link.send(EnterWorldRequest(0, 0, 3))
    # ... GoTo(character_id=3, address="127.0.0.1:7000", token="...")
"""

from __future__ import annotations

from engine.guid import Guid
from engine.messages import Message

FIRST_TYPE_ID = 350
LAST_TYPE_ID = 399

# -- client <-> login node ------------------------------------------------------------------


class CreateAccountRequest(Message, type_id=350):
    name: str
    password: str


class LoginRequest(Message, type_id=351):
    name: str
    password: str


class LoginOk(Message, type_id=352):
    """Logged in: the resume token reconnects without the password until it expires."""

    account_id: int
    resume_token: str
    expires_at: float
    characters: list[list]
    """``[character_id, name]`` rows."""


class Refused(Message, type_id=353):
    """A request was refused; ``request`` names it (``"login"``, ``"create_character"``...)."""

    request: str
    reason: str


class CreateCharacterRequest(Message, type_id=354):
    name: str


class DeleteCharacterRequest(Message, type_id=355):
    character_id: int


class CharacterList(Message, type_id=356):
    characters: list[list]
    """``[character_id, name]`` rows."""


class EnterWorldRequest(Message, type_id=357):
    character_id: int


class GoTo(Message, type_id=358):
    """Connect to ``address`` (host:port) with ``token`` in the handshake to enter the world."""

    character_id: int
    address: str
    token: str


class AccountCreated(Message, type_id=359):
    account_id: int


class LogoutRequest(Message, type_id=360):
    """Leave the login node and revoke the resume token."""


# -- login node <-> GLD <-> gamelogic node ----------------------------------------------------


class PlacePlayer(Message, type_id=370):
    serial: int
    account_id: int
    character_id: int
    entity_id: int
    token: str


class PlayerPlaced(Message, type_id=371):
    serial: int
    node: int
    address: str
    """The gamelogic node's client address (host:port); empty with ``error`` set."""
    error: str = ""


class ExpectPlayer(Message, type_id=372):
    serial: int
    account_id: int
    character_id: int
    entity_id: int
    token: str


class PlayerExpected(Message, type_id=373):
    serial: int
    error: str = ""


class DropPlayer(Message, type_id=374):
    """Save and drop the account's character (a takeover); answered with PlayerLeft."""

    account_id: int
    reason: str


class PlayerLeft(Message, type_id=375):
    """The account's character was saved and removed from the node (or was never there)."""

    account_id: int
    character_id: int


class LeaveWorld(Message, type_id=376):
    """Take the account's character out of the world (saved) before it is deleted."""

    serial: int
    account_id: int


class WorldLeft(Message, type_id=377):
    """The account has no character in the world now."""

    serial: int


# -- client <-> gamelogic node --------------------------------------------------------------------


class EnteredWorld(Message, type_id=380):
    avatar: Guid
    state: dict
    """The character as ``{"character": {...}, "inventory": [...], "skills": {...}}``."""


class SetPosition(Message, type_id=381):
    x: float
    y: float
    z: float


class Train(Message, type_id=382):
    skill: str
    amount: int


class Logout(Message, type_id=383):
    """Leave the world: the character is saved and removed."""


class AvatarState(Message, type_id=384):
    state: dict


CLIENT_TO_LOGIN = (CreateAccountRequest, LoginRequest, CreateCharacterRequest,
                   DeleteCharacterRequest, EnterWorldRequest, LogoutRequest)
"""What a client may send to the login node (its network filter allows these)."""

CLIENT_TO_WORLD = (SetPosition, Train, Logout)
"""What a client may send to the gamelogic node's player gate."""
