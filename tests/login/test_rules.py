"""The login rules without sockets: names, passwords, rate limits, tokens, hashes."""

import pytest

from engine.login import (
    EntryTokens,
    Passwords,
    RateLimiter,
    RuleError,
    check_character_name,
    check_password,
    mint_token,
)


@pytest.mark.parametrize("name", ["Ann", "Ann the Bold", "O'Neil", "Jean-Luc", "Zoë", "Ærwyn"])
def test_good_names_pass(name):
    assert name == check_character_name(name)


@pytest.mark.parametrize("name", [
    "", "Al", "x" * 25, "x" * 10_000, "Ann\x00", "Ann\n", "Ann\x1b[31m", "Robert'); DROP TABLE characters;--",
    "a  b", " Ann", "Ann ", "-Ann", "Ann42", "1' OR '1'='1", "Ann\u200b", None, 42,
])
def test_bad_names_are_refused(name):
    with pytest.raises(RuleError):
        check_character_name(name)


def test_passwords_are_held_to_a_length_range():
    assert "correct horse" == check_password("correct horse")
    for bad in ("short", "x" * 257, "eight\x00chars", b"bytes-are-not-text"):
        with pytest.raises(RuleError):
            check_password(bad)


def test_a_bucket_refuses_past_its_burst_and_refills_with_time():
    limiter = RateLimiter(burst=3, rate=0.5)
    assert [True, True, True, False] == [limiter.allow("ann", now=10.0) for _ in range(4)]
    assert limiter.allow("bob", now=10.0)  # another key has its own bucket
    assert not limiter.allow("ann", now=11.0)  # half a token
    assert limiter.allow("ann", now=12.0)
    assert 2 == limiter.refused


def test_the_limiter_forgets_the_least_recently_used_keys():
    limiter = RateLimiter(burst=1, rate=0.001, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.allow(key, now=0.0)
    assert 2 == len(limiter)
    assert limiter.allow("a", now=0.0)  # forgotten, so a fresh bucket


def test_tokens_are_random_and_entry_tokens_are_good_once_until_they_expire():
    assert len({mint_token() for _ in range(1000)}) == 1000
    tokens = EntryTokens(ttl=5.0)
    a = tokens.issue("a", now=0.0)
    b = tokens.issue("b", now=0.0)
    assert "a" == tokens.redeem(a, now=4.0)
    assert tokens.redeem(a, now=4.0) is None
    assert tokens.redeem(b, now=6.0) is None  # expired
    assert tokens.redeem("forged", now=0.0) is None


def test_argon2id_hashes_carry_their_parameters_and_verify_only_the_right_password():
    pw = Passwords(time_cost=1, memory_kib=8, parallelism=1)
    stored = pw.hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert "argon2id m=8 t=1 p=1" == pw.params
    assert pw.verify(stored, "correct horse")
    assert not pw.verify(stored, "wrong horse")
    assert not pw.verify(None, "correct horse")  # unknown account: the decoy, never a match
    assert not pw.verify("garbage", "correct horse")
    assert pw.hash("correct horse") != stored  # salted
    assert Passwords(time_cost=2, memory_kib=8, parallelism=1).needs_rehash(stored)
