from __future__ import annotations

from tests.events import load_event
from tests.integration.api.conftest import invoke

ROUTE = "/options/broker-accounts"


def test_lists_only_my_accounts_without_credentials(api, seed_broker_account):
    seed_broker_account("user-a", "acct-2", "UPSTOX", api_secret="s3cr3t", access_token="tok-123")
    seed_broker_account("user-a", "acct-1", "ZERODHA", api_key="key-1")
    seed_broker_account("user-b", "acct-9", "ZERODHA")

    response = api("GET", ROUTE, user="user-a")

    assert response.status == 200
    assert [item["broker_account_id"] for item in response.body["items"]] == ["acct-1", "acct-2"]
    assert response.body["items"][1]["broker"] == "UPSTOX"
    for secret in ("s3cr3t", "tok-123", "key-1", "api_secret", "access_token", "api_key"):
        assert secret not in response.raw_body


def test_user_without_accounts_gets_an_empty_list(api, seed_broker_account):
    seed_broker_account("user-a", "acct-1")

    response = api("GET", ROUTE, user="user-b")

    assert response.status == 200
    assert response.body == {"items": [], "next_token": None}

    response = api("GET", ROUTE, user="user-a")

    assert response.status == 200
    assert [item["broker_account_id"] for item in response.body["items"]] == ["acct-1"]


def test_request_without_identity_is_401(aws):
    response = invoke("broker_accounts", load_event("api/rest_proxy_no_identity.json"))

    assert response.status == 401
    assert response.body == {"code": "UNAUTHORIZED", "message": "Authentication required", "details": []}


def test_an_unreadable_account_is_left_out_instead_of_failing_the_list(api, seed_broker_account):
    seed_broker_account("user-a", "acct-1", "ZERODHA")
    seed_broker_account("user-a", "acct-2", created_at="yesterday")  # written by hand, say

    response = api("GET", ROUTE, user="user-a")

    assert response.status == 200
    assert [item["broker_account_id"] for item in response.body["items"]] == ["acct-1"]
