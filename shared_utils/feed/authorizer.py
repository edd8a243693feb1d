"""The WebSocket $connect check: a Cognito ID token, verified as API Gateway's Cognito authorizer
verifies the REST API's (RS256 signature by a key of the pool's JWKS, issuer, audience = the
console's app client, `token_use` id, not expired at the caller's clock).

Browsers cannot set headers on a WebSocket, so the console passes the token as `?token=`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jwt

from shared_utils.errors import DomainError
from shared_utils.models.identity import GROUPS_CLAIM

JWKS_TIMEOUT_SECONDS = 3.0


class FeedTokenError(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message=message, code="UNAUTHORIZED")


def issuer(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


class CognitoTokenVerifier:
    """`jwks_url`: the pool's `/.well-known/jwks.json` (tests point it at a stub server). The
    key set is cached for the life of the container and refetched for an unknown key id."""

    def __init__(self, issuer_url: str, app_client_id: str, jwks_url: str | None = None) -> None:
        self._issuer = issuer_url
        self._audience = app_client_id
        self._keys = jwt.PyJWKClient(
            jwks_url or f"{issuer_url}/.well-known/jwks.json",
            lifespan=3600,
            timeout=JWKS_TIMEOUT_SECONDS,
        )

    def claims(self, token: str | None, now: datetime) -> dict[str, str]:
        """`sub` and `cognito:groups` ("a,b") of a valid token; `FeedTokenError` otherwise."""
        if not token:
            raise FeedTokenError("no token")
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            payload: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self._audience,
                issuer=self._issuer,
                # Expiry against `now` below: the caller's clock, not the library's.
                options={
                    "require": ["sub", "exp", "iat", "token_use"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWKClientConnectionError:
            raise  # the key set could not be fetched: an error of ours, not a bad token
        except jwt.PyJWTError as error:
            raise FeedTokenError(f"invalid token: {error}") from error
        if payload.get("token_use") != "id":
            raise FeedTokenError("not an ID token")
        if not isinstance(payload.get("exp"), int) or payload["exp"] <= now.timestamp():
            raise FeedTokenError("token has expired")
        groups = payload.get(GROUPS_CLAIM) or []
        return {"sub": str(payload["sub"]), GROUPS_CLAIM: ",".join(str(g) for g in groups)}
