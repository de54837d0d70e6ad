"""The login rules, sans I/O: names, passwords, rate limits, tokens, and the login messages.

The login node (``nodes/login.py``) and the gamelogic node's player gate
(``nodes/player_gate.py``) are thin shells around these::

    from engine.login import RateLimiter, check_character_name, mint_token
    limiter = RateLimiter(burst=5, rate=0.2)
    if limiter.allow("ann", now=clock.now()):
        ...
"""

from engine.login._limiter import RateLimiter, TokenBucket
from engine.login._passwords import HashPool, Passwords
from engine.login._rules import (
    NAME_MAX,
    NAME_MIN,
    PASSWORD_MAX,
    PASSWORD_MIN,
    RuleError,
    check_account_name,
    check_character_name,
    check_password,
)
from engine.login._tokens import EntryTokens, mint_token, same_token

__all__ = [
    "NAME_MAX",
    "NAME_MIN",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "EntryTokens",
    "HashPool",
    "Passwords",
    "RateLimiter",
    "RuleError",
    "TokenBucket",
    "check_account_name",
    "check_character_name",
    "check_password",
    "mint_token",
    "same_token",
]
