from __future__ import annotations

import pytest

from shared_utils.api.errors import UnauthenticatedError
from shared_utils.api.identity import identity_from_claims


@pytest.mark.parametrize(
    ("raw", "groups"),
    [
        ("Admins,traders", {"Admins", "traders"}),
        ("[Admins traders]", {"Admins", "traders"}),
        (["Admins"], {"Admins"}),
        ("admin", {"admin"}),  # not the Cognito group: no admin rights
        (None, set()),
    ],
)
def test_groups_claim_in_every_shape_api_gateway_sends(raw, groups):
    identity = identity_from_claims({"sub": "user-a", "cognito:groups": raw})

    assert identity.user_id == "user-a"
    assert identity.groups == groups
    assert identity.is_admin == ("Admins" in groups)


@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}, {"sub": "  "}, {"email": "a@example.com"}])
def test_no_subject_means_unauthenticated(claims):
    with pytest.raises(UnauthenticatedError):
        identity_from_claims(claims)
