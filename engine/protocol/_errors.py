"""The one error a peer can cause."""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer broke the protocol; ``reason`` is fit to send back in a close frame.

    Whatever bytes arrive, this is the only exception ``next_event`` raises.
    Misusing the Connection locally (sending out of turn) is a RuntimeError.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
