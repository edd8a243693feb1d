"""Cursors are opaque: only a cursor this listing issued is accepted."""

from __future__ import annotations

import base64

import pytest

from shared_utils.errors import BadRequestError
from shared_utils.pagination import INVALID_CURSOR, CursorCodec

KEY = {"pk": {"S": "USER#u1"}, "sk": {"S": "BASKET#b7"}}
codec = CursorCodec()


def test_round_trip_and_end_of_listing() -> None:
    token = codec.encode(KEY, "baskets:u1")
    assert token is not None and "USER#u1" not in token
    assert codec.decode(token, "baskets:u1") == KEY
    assert codec.encode(None, "baskets:u1") is None
    assert codec.decode(None, "baskets:u1") is None


def flip(token: str, position: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    "bad",
    [
        lambda t: flip(t, 3),  # digest
        lambda t: flip(t, 40),  # payload
        lambda t: t[:-4],
        lambda t: "not-a-cursor!",
        lambda t: "A" * 5000,
        lambda t: base64.urlsafe_b64encode(b'{"s":"baskets:u1","k":{}}').decode(),
    ],
)
def test_tampered_cursor_is_invalid(bad: object) -> None:
    token = codec.encode(KEY, "baskets:u1")
    assert token is not None
    with pytest.raises(BadRequestError) as caught:
        codec.decode(bad(token), "baskets:u1")  # type: ignore[operator]
    assert caught.value.code == INVALID_CURSOR


def test_cursor_of_another_listing_or_user_is_invalid() -> None:
    token = codec.encode(KEY, "baskets:u1")
    with pytest.raises(BadRequestError) as caught:
        codec.decode(token, "baskets:u2")
    assert caught.value.code == INVALID_CURSOR
    with pytest.raises(BadRequestError):
        CursorCodec(b"another-secret").decode(token, "baskets:u1")
