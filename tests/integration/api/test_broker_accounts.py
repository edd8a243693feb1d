from __future__ import annotations

import json

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


def test_each_account_shows_the_static_ip_to_register_with_its_broker(aws, api, seed_broker_account):
    """The address comes from the egress document the stack publishes: the account's own group,
    else its user's; none for an account of no group, or for a paper one."""
    document = {
        "required": True,
        "groups": [
            {"group_id": "family-a", "public_ip": "203.0.113.10", "proxy_url": "http://10.0.1.5:3128",
             "members": ["user-a"]},
            {"group_id": "desk-z", "public_ip": "203.0.113.20", "proxy_url": "http://10.0.1.6:3128",
             "members": ["user-a/acct-z"]},
        ],
    }  # fmt: skip
    root = aws["platform"]
    root.settings = root.settings.model_copy(update={"client_egress": json.dumps(document)})
    seed_broker_account("user-a", "acct-1", "ZERODHA")
    seed_broker_account("user-a", "acct-z", "ZERODHA")
    seed_broker_account("user-a", "paper-1", "PAPER", paper=True)
    seed_broker_account("user-b", "acct-b", "ZERODHA")

    mine = {
        item["broker_account_id"]: item["static_ip"]
        for item in api("GET", ROUTE, user="user-a").body["items"]
    }
    assert mine == {"acct-1": "203.0.113.10", "acct-z": "203.0.113.20", "paper-1": None}
    assert api("GET", ROUTE, user="user-b").body["items"][0]["static_ip"] is None
