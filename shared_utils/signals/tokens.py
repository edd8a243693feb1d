"""A webhook's URL token and shared secret: made, hashed and checked here only.

- The token is 32 random bytes, URL-safe base64 (43 characters). Only its SHA-256 is stored (the
  lookup item's key): a random 256-bit value needs no salt or stretching, and a request is one
  hash and one read.
- The shared secret is chosen by the user (8-128 characters, maybe a reused passphrase), so it is
  stored salted and stretched (PBKDF2-HMAC-SHA256; a few milliseconds per request) and compared
  in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
HINT_CHARS = 4
SECRET_ALGORITHM = "pbkdf2_sha256"
SECRET_ITERATIONS = 20_000
_SALT_BYTES = 16


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_token(candidate: str) -> bool:
    """The shape every token has: anything else is refused before any lookup."""
    return bool(_TOKEN.match(candidate))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_hint(token: str) -> str:
    """What the owner sees of a URL to tell it from another: its last characters."""
    return f"…{token[-HINT_CHARS:]}"


def hash_secret(secret: str, *, salt: bytes | None = None, iterations: int = SECRET_ITERATIONS) -> str:
    """`pbkdf2_sha256$iterations$salt$digest` (base64): the parameters travel with the digest,
    so a later change of the iteration count leaves stored secrets readable."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, iterations)
    return "$".join((SECRET_ALGORITHM, str(iterations), _b64(salt), _b64(digest)))


def secret_matches(candidate: str, stored: str) -> bool:
    """Whether `candidate` is the secret behind `stored`, in time independent of where they differ."""
    try:
        algorithm, iterations, salt, digest = stored.split("$")
        rounds = int(iterations)
        expected = base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4))
        salt_bytes = base64.urlsafe_b64decode(salt + "=" * (-len(salt) % 4))
    except ValueError:
        return False
    if algorithm != SECRET_ALGORITHM:
        return False
    actual = hashlib.pbkdf2_hmac("sha256", candidate.encode("utf-8"), salt_bytes, rounds)
    return hmac.compare_digest(actual, expected)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
