"""URL tokens (random, stored as their SHA-256) and shared secrets (salted, stretched, compared
in constant time)."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from shared_utils.signals import tokens


def test_a_token_is_32_random_url_safe_bytes_and_stored_as_its_sha256():
    token = tokens.new_token()

    assert tokens.is_token(token) and len(token) == 43
    assert tokens.token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in tokens.token_hash(token)
    assert tokens.new_token() != token


def test_the_hint_shows_only_the_last_characters():
    token = tokens.new_token()

    assert tokens.token_hint(token) == f"…{token[-4:]}"


def test_anything_not_shaped_like_a_token_is_refused_before_any_lookup():
    for candidate in ("", "short", "a" * 42, "a" * 44, "a" * 42 + "/", "a" * 42 + "=", "../" * 14 + "a"):
        assert not tokens.is_token(candidate)


def test_a_secret_is_stored_salted_and_matches_only_itself():
    stored = tokens.hash_secret("correct horse battery")

    assert "correct horse battery" not in stored
    assert stored != tokens.hash_secret("correct horse battery")  # a salt of its own each time
    assert stored.startswith("pbkdf2_sha256$20000$")
    assert tokens.secret_matches("correct horse battery", stored)
    assert not tokens.secret_matches("correct horse batterY", stored)
    assert not tokens.secret_matches("", stored)


def test_a_damaged_or_foreign_stored_secret_matches_nothing():
    stored = tokens.hash_secret("correct horse battery")

    assert not tokens.secret_matches("correct horse battery", "garbage")
    assert not tokens.secret_matches("correct horse battery", stored.replace("pbkdf2_sha256", "md5"))
    assert not tokens.secret_matches("correct horse battery", "pbkdf2_sha256$x$y$z")


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=8, max_size=128), st.text(min_size=1, max_size=128))
def test_only_the_secret_itself_matches(secret, other):
    stored = tokens.hash_secret(secret, iterations=10)

    assert tokens.secret_matches(secret, stored)
    assert tokens.secret_matches(other, stored) is (other == secret)
