"""A local `--admin` token must give the same rights a Cognito `Admins` member has when deployed."""

from __future__ import annotations

from datetime import UTC, datetime

from shared_utils.api.identity import identity_from_claims
from shared_utils.local.identity import LocalUser, issue_token, new_secret, verify_token

NOW = datetime.now(UTC)  # verify_token checks expiry against the real clock


def test_admin_token_claims_make_an_admin_identity() -> None:
    secret = new_secret()
    claims = verify_token(issue_token(LocalUser(user_id="alice", admin=True), secret, NOW), secret)

    identity = identity_from_claims(claims)

    assert identity.user_id == "alice"
    assert identity.is_admin


def test_plain_token_claims_are_not_admin() -> None:
    secret = new_secret()
    claims = verify_token(issue_token(LocalUser(user_id="bob"), secret, NOW), secret)

    assert not identity_from_claims(claims).is_admin
