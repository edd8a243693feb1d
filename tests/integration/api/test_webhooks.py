"""Signal webhooks through the API: the URL is shown once (on create and rotate) and stored only
as a hash, a rotation retires the old URL at once, another user's strategy or webhook is a 404,
a leg the strategy lacks a 422 naming `leg_no`."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import boto3
import pytest

from shared_utils.api.catalog import SIGNAL_WEBHOOK
from shared_utils.signals.tokens import token_hash
from tests.conftest import TEST_REGION
from tests.events import load_event
from tests.integration.api.conftest import invoke, strategy_body

WEBHOOKS = "/options/webhooks"
WEBHOOK = "/options/webhooks/{webhook_id}"
SECRET = "nifty-condor-2026"


@pytest.fixture
def strategy_id(api) -> str:
    basket = api("POST", "/options/baskets", body={"name": "Signals"}).body["basket_id"]
    created = api("POST", "/options/baskets/{basket_id}/strategies", basket_id=basket, body=strategy_body())
    assert created.status == 201, created.body
    return str(created.body["strategy_id"])


def post_signal(url_path: str, body: dict) -> int:
    """The status a chart platform gets for `body` on `url_path` (no Authorization)."""
    token = url_path.removeprefix("/signals/")
    event = load_event("signals/rest_proxy_signal.json")
    event |= {"path": url_path, "pathParameters": {"token": token}, "body": json.dumps(body)}
    return invoke(SIGNAL_WEBHOOK, event).status


def stored_items(aws) -> str:
    table = boto3.resource("dynamodb", region_name=TEST_REGION).Table(aws["settings"].trading_table_name)
    return json.dumps(table.scan()["Items"], default=str)


def test_creating_a_webhook_shows_its_url_once_and_stores_only_hashes(aws, api, strategy_id):
    created = api(
        "POST",
        WEBHOOKS,
        body={
            "strategy_id": strategy_id,
            "action": "ENTER",
            "format": "TRADINGVIEW",
            "label": "NIFTY breakout",
            "shared_secret": SECRET,
            "secret_field": "passphrase",
            "signal_id_field": "id",
        },
    )

    assert created.status == 201, created.body
    body = created.body
    token = body["url_path"].removeprefix("/signals/")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert body["token_hint"] == f"…{token[-4:]}"
    assert (body["secret_set"], body["secret_field"], body["rate_limit_per_minute"]) == (
        True,
        "passphrase",
        6,
    )
    assert "shared_secret" not in body and SECRET not in created.raw_body
    listed = api("GET", WEBHOOKS)
    assert listed.status == 200
    (shown,) = listed.body["items"]
    assert shown["webhook_id"] == body["webhook_id"] and "url_path" not in shown
    assert token not in listed.raw_body and SECRET not in listed.raw_body
    stored = stored_items(aws)
    assert token not in stored and SECRET not in stored
    assert token_hash(token) in stored


def test_rotating_retires_the_old_url_at_once(api, strategy_id):
    created = api("POST", WEBHOOKS, body={"strategy_id": strategy_id, "action": "EXIT", "format": "CHARTINK"})
    old_url = created.body["url_path"]
    alert = load_event("signals/chartink_alert.json")
    assert post_signal(old_url, alert) != 404

    rotated = api("POST", f"{WEBHOOK}/rotate", webhook_id=created.body["webhook_id"])

    assert rotated.status == 200, rotated.body
    assert rotated.body["url_path"] != old_url and rotated.body["version"] == 2
    assert rotated.body["rotated_at"] is not None
    assert post_signal(old_url, alert) == 404
    assert post_signal(rotated.body["url_path"], {**alert, "triggered_at": "9:55 am"}) != 404
    (shown,) = api("GET", WEBHOOKS).body["items"]
    assert shown["token_hint"] == rotated.body["token_hint"]


def test_deleting_a_webhook_retires_its_url(api, strategy_id):
    created = api(
        "POST", WEBHOOKS, body={"strategy_id": strategy_id, "action": "ENTER", "format": "TRADINGVIEW"}
    )

    deleted = api("DELETE", WEBHOOK, webhook_id=created.body["webhook_id"])

    assert deleted.status == 204 and not deleted.raw_body
    assert post_signal(created.body["url_path"], {"action": "buy"}) == 404
    assert api("GET", WEBHOOKS).body["items"] == []
    again = api("DELETE", WEBHOOK, webhook_id=created.body["webhook_id"])
    assert again.status == 404


def test_another_users_strategy_or_webhook_is_a_404(api, strategy_id):
    mine = api(
        "POST", WEBHOOKS, body={"strategy_id": strategy_id, "action": "ENTER", "format": "TRADINGVIEW"}
    )
    webhook_id = mine.body["webhook_id"]

    theirs = api(
        "POST",
        WEBHOOKS,
        user="user-b",
        body={"strategy_id": strategy_id, "action": "ENTER", "format": "TRADINGVIEW"},
    )
    answers = [
        api("DELETE", WEBHOOK, webhook_id=webhook_id, user="user-b"),
        api("POST", f"{WEBHOOK}/rotate", webhook_id=webhook_id, user="user-b"),
        api("GET", f"{WEBHOOK}/signals", webhook_id=webhook_id, user="user-b"),
    ]

    for answer in (theirs, *answers):
        assert answer.status == 404, answer.body
        assert answer.body["code"] == "NOT_FOUND"
        assert strategy_id not in answer.raw_body and webhook_id not in answer.raw_body
    assert api("GET", WEBHOOKS, user="user-b").body["items"] == []
    assert post_signal(mine.body["url_path"], {"action": "buy"}) != 404  # still user-a's, unrotated


def test_a_leg_the_strategy_does_not_have_is_a_422_naming_leg_no(api, strategy_id):
    body = {"strategy_id": strategy_id, "action": "EXIT_LEG", "format": "TRADINGVIEW"}

    beyond = api("POST", WEBHOOKS, body={**body, "leg_no": 5})  # an iron condor has 4 legs
    missing = api("POST", WEBHOOKS, body=body)
    fourth = api("POST", WEBHOOKS, body={**body, "leg_no": 4})

    assert beyond.status == 422 and [d["field"] for d in beyond.body["details"]] == ["leg_no"]
    assert "4 leg(s)" in beyond.body["details"][0]["issue"]
    assert missing.status == 422 and [d["field"] for d in missing.body["details"]] == ["leg_no"]
    assert "required for EXIT_LEG" in missing.body["details"][0]["issue"]
    assert fourth.status == 201 and fourth.body["leg_no"] == 4


def test_signals_are_listed_newest_first_page_by_page(aws, api, strategy_id):
    created = api(
        "POST", WEBHOOKS, body={"strategy_id": strategy_id, "action": "EXIT", "format": "TRADINGVIEW"}
    )
    for n in range(3):
        post_signal(created.body["url_path"], {"id": n, "action": "sell"})
        aws["clock"].advance(timedelta(seconds=1))
    path = f"{WEBHOOK}/signals"

    first = api("GET", path, webhook_id=created.body["webhook_id"], query={"limit": "2"})
    rest = api(
        "GET",
        path,
        webhook_id=created.body["webhook_id"],
        query={"limit": "2", "next_token": first.body["next_token"]},
    )

    assert first.status == 200 and rest.status == 200
    received = [item["received_at"] for item in first.body["items"] + rest.body["items"]]
    assert len(received) == 3 and received == sorted(received, reverse=True)
    assert rest.body["next_token"] is None
    assert all(item["webhook_id"] == created.body["webhook_id"] for item in first.body["items"])


@pytest.mark.parametrize("deleted", ["strategy", "basket"])
def test_deleting_the_strategy_or_its_basket_deletes_its_webhooks(api, strategy_id, deleted):
    body = {"strategy_id": strategy_id, "action": "ENTER", "format": "TRADINGVIEW"}
    first = api("POST", WEBHOOKS, body=body).body
    second = api("POST", WEBHOOKS, body=body).body
    basket_id = api("GET", "/options/strategies/{strategy_id}", strategy_id=strategy_id).body["strategy"][
        "basket_id"
    ]

    if deleted == "strategy":
        gone = api("DELETE", "/options/strategies/{strategy_id}", strategy_id=strategy_id)
    else:
        gone = api("DELETE", "/options/baskets/{basket_id}", basket_id=basket_id)

    assert gone.status == 204, gone.body
    assert api("GET", WEBHOOKS).body["items"] == []
    for created in (first, second):  # their URLs answer as unknown ones
        assert post_signal(created["url_path"], {"action": "buy"}) == 404
