"""Accounts, sessions and characters through the persistence module's messages, on both backends."""

import itertools
import time

import pytest

from engine.codec.binary import decode_batch, encode_batch
from engine.persistence.messages import (
    AccountReply,
    CharacterLoaded,
    CharactersReply,
    CreateAccount,
    CreateCharacter,
    CreateSession,
    DeleteCharacter,
    ExpireSessions,
    GetAccount,
    GetSession,
    ListCharacters,
    LoadCharacter,
    RevokeAccountSessions,
    RevokeSession,
    SessionReply,
    SetPassword,
    SetRoles,
    StoreDone,
)
from engine.testing import Harness, Probe
from nodes.persistence import PersistenceModule


@pytest.fixture
def ask(store_url):
    h = Harness(node_id=1000)
    probe = h.add(Probe("probe"))
    module = h.add(PersistenceModule("persistence", {"url": store_url}))
    h.connect("probe", "persistence")
    h.connect("persistence", "probe")
    h.tick()
    serials = itertools.count(1)

    def ask(msg_class, *fields):
        """Send one request and return its answer, after a trip through the wire codec."""
        serial = next(serials)
        probe.send(msg_class(module.guid, probe.guid, serial, *fields))
        end = time.monotonic() + 30
        while time.monotonic() < end:
            h.tick()
            for m in probe.received:
                if m.serial == serial:
                    probe.received.remove(m)
                    [wire] = decode_batch(encode_batch([m]))
                    assert m == wire
                    return wire
            time.sleep(0.002)
        raise AssertionError(f"no answer to {msg_class.__name__}")

    yield ask
    h.stop()


def test_accounts_by_message(ask):
    created = ask(CreateAccount, "Ann", "$argon2id$h", "m=1", ["player"], 10.0)
    assert isinstance(created, AccountReply) and "" == created.error
    account_id = created.account[0]
    assert [account_id, "Ann", "$argon2id$h", "m=1", ["player"], 10.0] == created.account
    assert ask(CreateAccount, "ANN", "h", "", [], 11.0).error.startswith("name_taken: ")
    assert created.account == ask(GetAccount, "ann").account
    assert ask(GetAccount, "nobody").account is None
    assert (1, "") == ask(SetPassword, account_id, "$argon2id$new", "m=2")[4:]
    assert (1, "") == ask(SetRoles, account_id, ["gm", "player"])[4:]
    assert ["$argon2id$new", "m=2", ["gm", "player"]] == ask(GetAccount, "Ann").account[2:5]
    assert ask(SetPassword, 999, "h", "").error.startswith("not_found: ")
    assert ask(SetRoles, account_id, ["bad role"]).error.startswith("invalid: ")


def test_sessions_by_message(ask):
    account_id = ask(CreateAccount, "ann", "h", "", [], 0.0).account[0]
    session = ask(CreateSession, "tok", account_id, 100.0, 200.0)
    assert isinstance(session, SessionReply)
    assert ["tok", account_id, 100.0, 200.0, False] == session.session
    assert session.session == ask(GetSession, "tok", 150.0).session
    assert ask(GetSession, "tok", 250.0).session is None
    assert ask(CreateSession, "tok", account_id, 100.0, 200.0).error.startswith("name_taken: ")
    done = ask(RevokeSession, "tok")
    assert isinstance(done, StoreDone) and (1, "") == done[4:]
    assert ask(GetSession, "tok", 150.0).session is None
    ask(CreateSession, "tok2", account_id, 100.0, 300.0)
    assert 1 == ask(RevokeAccountSessions, account_id).affected
    assert 2 == ask(ExpireSessions, 150.0).affected


def test_characters_by_message(ask):
    account_id = ask(CreateAccount, "ann", "h", "", [], 0.0).account[0]
    made = ask(CreateCharacter, account_id, "Hero", "Human", b"\x80", "valley", 5.0)
    assert isinstance(made, CharactersReply) and "" == made.error
    [[character_id, owner, name, entity_id, created_at]] = made.characters
    assert (account_id, "Hero", 5.0) == (owner, name, created_at)
    assert ask(CreateCharacter, account_id, "hero", "Human", b"", None, 6.0).error.startswith("name_taken")
    assert made.characters == ask(ListCharacters, account_id).characters
    loaded = ask(LoadCharacter, character_id)
    assert isinstance(loaded, CharacterLoaded)
    assert made.characters[0] == loaded.character
    assert [entity_id, "Human", account_id, "valley", 1, b"\x80"] == loaded.entity
    assert 1 == ask(DeleteCharacter, character_id).affected
    assert 0 == ask(DeleteCharacter, character_id).affected
    assert (None, None, "") == ask(LoadCharacter, character_id)[4:]
    assert [] == ask(ListCharacters, account_id).characters
    assert ask(CreateCharacter, 999, "Nobody", "Human", b"", None, 1.0).error.startswith("not_found: ")
