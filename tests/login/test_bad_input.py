"""Bad input at the login and gamelogic doors: a clear refusal, a log line, no stored change."""

import time

import pytest

from engine.login.messages import AccountCreated, LoginOk, Refused
from engine.modules.network_messages import ConnectionLost
from engine.persistence.messages import CreateAccount
from nodes.headless import HeadlessClient, LinkSession

PASSWORD = "correct horse battery"
BAD_LOGIN = "wrong account name or password"
NASTY = ["Robert'); DROP TABLE accounts;--", "x' OR '1'='1", "Ann\x00", "Ann\n\r\x1b[2J", "A" * 100_000,
         "%s%s%n", "\\'; --", "\u202eevil"]


@pytest.fixture(scope="module")
def settled(world):
    """An account with a character, and the database once earlier tests' saves landed."""
    client = HeadlessClient(world.login_address)
    assert isinstance(client.create_account("Badinput Owner", PASSWORD), AccountCreated)
    assert isinstance(client.login("Badinput Owner", PASSWORD), LoginOk)
    client.create_character("Badinput Hero")
    client.close()
    time.sleep(1.0)
    return world


def _verifications(world):
    """argon2id verifications the login node has run (decoys included), from its status."""
    status = world.cluster.tool.statuses([100], timeout=5)[100]
    return next(m for m in status["modules"] if m["name"] == "login")["verifications"]


def test_unknown_accounts_wrong_passwords_and_nasty_names_get_one_refusal_text(settled):
    before = settled.snapshot()
    verified = _verifications(settled)
    client = HeadlessClient(settled.login_address)
    answers = [client.login("Badinput Owner", "wrong password"),
               client.login("Nobody Here", PASSWORD),
               client.login("Badinput Owner", "' OR 1=1 --")]
    answers += [client.login(name, PASSWORD) for name in NASTY[:2]]  # the account limit is per name
    assert [BAD_LOGIN] * 5 == [a.reason for a in answers], answers
    assert all(isinstance(a, Refused) and "login" == a.request for a in answers)
    assert verified + 5 == _verifications(settled)  # the same argon2 work whether the account exists
    client.close()
    assert before == settled.snapshot()
    assert settled.log("login").count(BAD_LOGIN) >= 5


def test_bad_names_passwords_and_duplicates_are_refused_without_a_change(settled):
    before = settled.snapshot()
    client = HeadlessClient(settled.login_address)
    for name in NASTY + ["", "ab"]:
        answer = client.create_account(name, PASSWORD)
        assert isinstance(answer, Refused) and "create_account" == answer.request, (name, answer)
        assert "names" in answer.reason
    lost = client.create_account(12345, PASSWORD)  # not even a string: the protocol closes the link
    assert isinstance(lost, ConnectionLost) and "field 'name' wants str" in lost.reason
    for password in ("short", "p" * 1000):
        assert "password" in client.create_account("Fine Name", password).reason
    assert "that account name is taken" == client.create_account("BADINPUT owner", PASSWORD).reason
    assert "log in first" == client.create_character("Sneaky").reason
    assert isinstance(client.login("Badinput Owner", PASSWORD), LoginOk)
    after_login = settled.snapshot()
    for name in NASTY:
        assert "names" in client.create_character(name).reason
    assert "that name is taken" == client.create_character("badinput hero").reason
    assert "no such character on this account" == client.delete_character(1 << 62).reason
    assert "no such character on this account" == client.enter_world(-1).reason
    # a persistence request sent straight from a client never gets past the network filter
    client.login_link.send(CreateAccount(0, 0, 1, "Injected Name", "x", "", ["admin"], 0.0))
    client.pump(0.5)
    client.close()
    assert before["accounts"] == after_login["accounts"] == settled.snapshot()["accounts"]
    assert before["characters"] == settled.snapshot()["characters"]
    assert before["entities"] == settled.snapshot()["entities"]
    assert "refused create_account" in settled.log("login")


def test_forged_resume_and_entry_tokens_are_refused(settled):
    before = settled.snapshot()
    for token in ("forged-token", "x" * 5000, "'; DELETE FROM sessions; --"):
        answer = HeadlessClient(settled.login_address).resume(token)
        assert isinstance(answer, (Refused, ConnectionLost)) and "not valid" in answer.reason, answer
    world = LinkSession(settled.clients_of("gamelogic"), token="forged-entry-token")
    lost = world.wait_for((ConnectionLost,), timeout=10)
    assert lost is not None and "entry token is not valid" in lost.reason
    world.close()
    assert before == settled.snapshot()
    assert "no valid entry token" in settled.log("gamelogic")


def test_login_attempts_are_limited_per_account(settled):
    client = HeadlessClient(settled.login_address)
    assert isinstance(client.create_account("Limited Lucy", PASSWORD), AccountCreated)
    answers = [client.login("Limited Lucy", "wrong password") for _ in range(6)]
    assert [BAD_LOGIN] * 5 + ["too many login attempts; wait a minute and try again"] == \
        [a.reason for a in answers]
    refused = client.login("Limited Lucy", PASSWORD)  # even the right password, for now
    assert "too many login attempts" in refused.reason
    client.close()
