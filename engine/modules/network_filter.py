"""ClientFilter: what a client may send, and as whom it speaks.

The pipe from the :class:`~engine.modules.network.NetworkModule` to the
module it delivers to carries this filter. The network module stamps each
client message with the client's connection Guid; the filter drops the
types clients may not send and rewrites ``frm`` to the entity the
connection controls (set by ``BindClient``)::

    engine.connect("net", "logic", filters=[ClientFilter(allow=[Move, Say])])

It is a separate concept from the socket edge: the game decides the policy
(stack files name it ``{ kind = "client", allow = [1001, 1002] }``), the
network module only applies it through the pipe.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from engine.guid import format_guid
from engine.messages import Message

if TYPE_CHECKING:
    from engine.modules.network import NetworkModule

__all__ = ["ClientFilter"]

_tuple_new = tuple.__new__

log = logging.getLogger("spenefett.network")


class ClientFilter:
    """Pipe filter for network -> gamelogic: only allowed types, ``frm`` = the controlled entity.

    ``allow`` holds message classes or type ids a client may send. The
    network module calls :meth:`bind` at start so the filter can read its
    connection -> controlled-Guid table and recognise the module's own
    messages (ClientConnected, ClientDisconnected), which always pass.
    Stack files name it ``{ kind = "client", allow = [1001, 1002] }``.
    """

    def __init__(self, allow: Iterable[type[Message] | int]):
        ids = set()
        for a in allow:
            tid = a.type_id if isinstance(a, type) and issubclass(a, Message) else a
            if type(tid) is not int or tid < 1:
                raise ValueError(f"allow: {a!r} is neither a message class nor a type id")
            ids.add(tid)
        self.allowed = frozenset(ids)
        self.dropped = 0
        """Messages refused because clients may not send their type."""
        self._controls: Mapping[int, int] = {}
        self._network = -1

    def bind(self, network: NetworkModule) -> None:
        """Read controlled Guids from ``network`` and pass its own messages."""
        self._controls = network.controls
        self._network = network.guid

    def __call__(self, message: Any) -> Any:
        passed = self.filter_many([message])
        return passed[0] if passed else None

    def filter_many(self, messages: list[Any]) -> list[Any]:
        """The messages that pass, ``frm`` replaced by the controlled Guid where one is bound."""
        network, allowed, controls = self._network, self.allowed, self._controls
        passed = []
        for message in messages:
            frm = message[2]
            if frm != network:
                if message[0] not in allowed:
                    self._refuse(message)
                    continue
                controlled = controls.get(frm)
                if controlled is not None and controlled != frm:
                    message = _tuple_new(message.__class__, (message[0], message[1], controlled,
                                                             *message[3:]))
            passed.append(message)
        return passed

    def _refuse(self, message: Any) -> None:
        self.dropped += 1
        if self.dropped <= 10 or self.dropped % 1000 == 0:
            log.warning("dropped %s from client %s: clients may not send it (%d dropped so far)",
                        type(message).__name__, format_guid(message[2]), self.dropped)
