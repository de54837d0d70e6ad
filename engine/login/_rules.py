"""Name and password rules: plain functions that say what is refused and why.

Names are what other players see, so they are short, printable and free of
look-alike tricks: letters (any script) with single spaces, hyphens or
apostrophes between them, nothing else. Passwords are only held to a
length range: long passphrases are better than clever symbols.

>>> check_character_name("Ann the Bold")
'Ann the Bold'
>>> check_character_name("Ann\\x00")
Traceback (most recent call last):
  ...
engine.login._rules.RuleError: names may use letters, with single spaces, hyphens or apostrophes between them
"""

from __future__ import annotations

import unicodedata

NAME_MIN = 3
NAME_MAX = 24
PASSWORD_MIN = 8
PASSWORD_MAX = 256
"""Longer passwords are refused before hashing: an absurd length is a cost to us, not security."""

_JOINERS = frozenset(" -'")


class RuleError(ValueError):
    """A name or password breaks a rule; the message says which, for a person."""


def check_name(name: object, *, what: str = "names") -> str:
    """The name, NFC-normalised, if it obeys the rules; else RuleError."""
    if not isinstance(name, str):
        raise RuleError(f"{what} must be text")
    if len(name) > NAME_MAX * 4:  # before normalising: an absurd length costs nothing to refuse
        raise RuleError(f"{what} are {NAME_MIN} to {NAME_MAX} characters long")
    name = unicodedata.normalize("NFC", name)
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise RuleError(f"{what} are {NAME_MIN} to {NAME_MAX} characters long")
    prev_joiner = True  # no joiner first
    for ch in name:
        if ch in _JOINERS:
            if prev_joiner:
                break
            prev_joiner = True
        elif unicodedata.category(ch) in ("Lu", "Ll", "Lt", "Lo", "Mn"):
            prev_joiner = False
        else:
            break
    else:
        if not prev_joiner:
            return name
    raise RuleError(f"{what} may use letters, with single spaces, hyphens or apostrophes between them")


def check_account_name(name: object) -> str:
    """An account name: the same rules as a character name."""
    return check_name(name, what="account names")


def check_character_name(name: object) -> str:
    """A character name (unique among characters; the store checks that)."""
    return check_name(name, what="names")


def check_password(password: object) -> str:
    """The password if its length is acceptable; else RuleError."""
    if not isinstance(password, str):
        raise RuleError("a password must be text")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise RuleError(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
    if "\x00" in password:
        raise RuleError("a password may not contain a NUL character")
    return password
