"""Idempotency-Key on POST: a retry gets the first response; a reused key with another body is refused."""

from __future__ import annotations

BASKETS = "/options/baskets"
KEY = "3f1c9a52-8d0e-4c47-9d61-0b1f8a7e2c11"


def post(api, body, key=KEY, user="user-a"):
    return api("POST", BASKETS, user=user, body=body, headers={"Idempotency-Key": key})


def test_retry_returns_the_first_response_and_creates_once(api):
    first = post(api, {"name": "Weekly theta"})
    retry = post(api, {"name": "Weekly theta"})

    assert first.status == retry.status == 201
    assert retry.body == first.body
    assert [item["basket_id"] for item in api("GET", BASKETS).body["items"]] == [first.body["basket_id"]]


def test_same_key_with_a_different_body_is_rejected(api):
    post(api, {"name": "Weekly theta"})

    reused = post(api, {"name": "Something else"})

    assert reused.status == 422
    assert reused.body["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert reused.body["details"][0]["field"] == "Idempotency-Key"
    assert len(api("GET", BASKETS).body["items"]) == 1


def test_keys_are_scoped_to_the_user(api):
    mine = post(api, {"name": "Weekly theta"}, user="user-a")
    theirs = post(api, {"name": "Weekly theta"}, user="user-b")

    assert theirs.status == 201
    assert theirs.body["basket_id"] != mine.body["basket_id"]
    assert theirs.body["user_id"] == "user-b"


def test_without_a_key_every_post_creates(api):
    api("POST", BASKETS, body={"name": "A"})
    api("POST", BASKETS, body={"name": "A"})

    assert len(api("GET", BASKETS).body["items"]) == 2


def test_malformed_key_is_a_422(api):
    response = post(api, {"name": "A"}, key="short")

    assert response.status == 422
    assert response.body["details"][0]["field"].lower() == "idempotency-key"
