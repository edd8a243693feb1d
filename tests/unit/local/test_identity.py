"""A local `--admin` token must give the same rights a Cognito `Admins` member has when deployed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local_platform.identity import LocalUser, TokenError, issue_token, new_secret, verify_token
from shared_utils.api.identity import identity_from_claims

NOW = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)


def test_admin_token_claims_make_an_admin_identity() -> None:
    secret = new_secret()
    claims = verify_token(issue_token(LocalUser(user_id="alice", admin=True), secret, NOW), secret, NOW)

    identity = identity_from_claims(claims)

    assert identity.user_id == "alice"
    assert identity.is_admin


def test_plain_token_claims_are_not_admin() -> None:
    secret = new_secret()
    claims = verify_token(issue_token(LocalUser(user_id="bob"), secret, NOW), secret, NOW)

    assert not identity_from_claims(claims).is_admin


def test_an_expired_token_is_refused() -> None:
    secret = new_secret()
    token = issue_token(LocalUser(user_id="carol"), secret, NOW)

    with pytest.raises(TokenError, match="expired"):
        verify_token(token, secret, NOW + timedelta(days=365))
