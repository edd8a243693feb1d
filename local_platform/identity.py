"""Local identity: HS256 tokens signed with a secret kept in the data directory, verified by the
HTTP layer and turned into the claims the Cognito authorizer hands API Gateway
(`sub`, `cognito:groups`), so the handlers see exactly what they see when deployed."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, Field

from shared_utils.api.identity import ADMINS_GROUP, GROUPS_CLAIM

ALGORITHM = "HS256"
ISSUER = "options-platform-local"
AUDIENCE = "options-api"
TOKEN_LIFETIME = timedelta(hours=12)
BEARER = "bearer"


class TokenError(Exception):
    """The request's token is missing, malformed, expired or not signed by this platform."""


class LocalUser(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    admin: bool = False

    @property
    def groups(self) -> list[str]:
        return [ADMINS_GROUP] if self.admin else []


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def issue_token(user: LocalUser, secret: str, now: datetime, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    if now.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    payload: dict[str, Any] = {
        "sub": user.user_id,
        GROUPS_CLAIM: user.groups,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "token_use": "id",
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str, now: datetime) -> dict[str, Any]:
    """The authorizer's claims for a token valid at `now`; `TokenError` otherwise."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Expiry is checked against `now` below (the caller's clock, not the library's).
            options={"require": ["sub", "exp", "iat"], "verify_iat": False, "verify_exp": False},
        )
    except jwt.PyJWTError as error:
        raise TokenError(str(error)) from error
    if not isinstance(payload.get("exp"), int) or payload["exp"] <= now.timestamp():
        raise TokenError("token has expired")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise TokenError("token has no subject")
    groups = payload.get(GROUPS_CLAIM) or []
    if not isinstance(groups, list):
        raise TokenError("cognito:groups must be a list")
    # A REST API Cognito authorizer passes every claim as a string; groups as "a,b".
    return {"sub": sub, GROUPS_CLAIM: ",".join(str(group) for group in groups)}


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise TokenError("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        raise TokenError("Authorization must be 'Bearer <token>'")
    return token.strip()
