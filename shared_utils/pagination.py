"""Opaque pagination cursors.

A cursor wraps DynamoDB's `LastEvaluatedKey` with the listing it belongs to (its scope) and a
keyed digest, so a client can neither read nor forge one: a tampered cursor, or one taken from
another listing or another user, is rejected as INVALID_CURSOR instead of reaching DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from shared_utils.errors import BadRequestError, FieldIssue

INVALID_CURSOR = "INVALID_CURSOR"
_DEFAULT_SECRET = b"options-platform-cursor-v1"
_DIGEST_BYTES = 16
_MAX_TOKEN_CHARS = 2048


def _invalid() -> BadRequestError:
    return BadRequestError(
        "next_token is not a cursor returned by this listing",
        details=[FieldIssue("next_token", "invalid or tampered cursor")],
        code=INVALID_CURSOR,
    )


class CursorCodec:
    def __init__(self, secret: bytes = _DEFAULT_SECRET) -> None:
        self._secret = secret

    def _digest(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_DIGEST_BYTES]

    def encode(self, last_key: dict[str, Any] | None, scope: str) -> str | None:
        """Cursor for the page after `last_key` (None when the listing is complete)."""
        if not last_key:
            return None
        payload = json.dumps({"s": scope, "k": last_key}, sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._digest(payload) + payload).decode().rstrip("=")

    def decode(self, token: str | None, scope: str) -> dict[str, Any] | None:
        """The `ExclusiveStartKey` of a cursor made by `encode` for the same scope."""
        if token is None or token == "":
            return None
        if len(token) > _MAX_TOKEN_CHARS:
            raise _invalid()
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as error:
            raise _invalid() from error
        digest, payload = raw[:_DIGEST_BYTES], raw[_DIGEST_BYTES:]
        if len(digest) != _DIGEST_BYTES or not hmac.compare_digest(digest, self._digest(payload)):
            raise _invalid()
        try:
            body = json.loads(payload)
        except ValueError as error:
            raise _invalid() from error
        key = body.get("k") if isinstance(body, dict) else None
        if body.get("s") != scope or not _is_key(key):
            raise _invalid()
        return key


def _is_key(key: Any) -> bool:
    return (
        isinstance(key, dict)
        and 0 < len(key) <= 4
        and all(
            isinstance(name, str)
            and isinstance(value, dict)
            and list(value) == ["S"]
            and isinstance(value["S"], str)
            for name, value in key.items()
        )
    )


DEFAULT_CODEC = CursorCodec()
