"""Session, resume and entry tokens: random, unguessable, with an expiry the caller checks.

Tokens come from :mod:`secrets` (32 random bytes, URL-safe text), so a
token is a bearer credential: whoever holds it is the account. The store
keeps session tokens with their expiry and a revoked flag; entry tokens
(one login node -> one gamelogic node -> one client) live only in memory
and are good once.

>>> len(mint_token())
43
>>> ttl = EntryTokens(ttl=30.0)
>>> token = ttl.issue({"account": 7}, now=0.0)
>>> ttl.redeem(token, now=1.0)
{'account': 7}
>>> ttl.redeem(token, now=1.0) is None   # good once
True
"""

from __future__ import annotations

import secrets
from typing import Any

TOKEN_BYTES = 32


def mint_token() -> str:
    """A fresh random token (256 bits, URL-safe base64 without padding)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def same_token(a: str, b: str) -> bool:
    """Compare tokens in constant time."""
    return secrets.compare_digest(a.encode(), b.encode())


class EntryTokens:
    """One-time tokens mapped to what they admit, each good once and until it expires."""

    def __init__(self, ttl: float = 30.0):
        self.ttl = ttl
        self._live: dict[str, tuple[float, Any]] = {}

    def issue(self, what: Any, *, now: float, token: str | None = None) -> str:
        """Remember ``what`` under ``token`` (a fresh one if None) until ``now + ttl``."""
        token = token or mint_token()
        self._live[token] = (now + self.ttl, what)
        return token

    def redeem(self, token: str, *, now: float) -> Any | None:
        """What ``token`` admits, once; None if unknown, used or expired."""
        entry = self._live.pop(token, None)
        if entry is None or entry[0] < now:
            return None
        return entry[1]

    def expire(self, now: float) -> list[Any]:
        """Drop expired tokens; returns what they would have admitted."""
        dead = [t for t, (deadline, _) in self._live.items() if deadline < now]
        return [self._live.pop(t)[1] for t in dead]

    def __len__(self) -> int:
        return len(self._live)
