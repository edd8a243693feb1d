from __future__ import annotations

import pytest

BASKETS = "/options/baskets"
BASKET = "/options/baskets/{basket_id}"


def create_basket(api, user="user-a", **body):
    response = api("POST", BASKETS, user=user, body={"name": "Weekly theta", **body})
    assert response.status == 201, response.body
    return response.body


def test_create_then_read_a_basket(api):
    created = create_basket(api, description="Nifty income", visibility="PRIVATE")

    assert created["name"] == "Weekly theta"
    assert created["version"] == 1
    assert created["user_id"] == "user-a"
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].endswith(("Z", "+00:00"))

    detail = api("GET", BASKET, basket_id=created["basket_id"])
    assert detail.status == 200
    assert detail.body["basket"] == created
    assert detail.body["strategies"] == []
    assert detail.body["default_allocations"] == []


def test_list_is_paginated_with_an_opaque_token(api):
    names = {create_basket(api, name=f"Basket {i}")["name"] for i in range(5)}

    first = api("GET", BASKETS, query={"limit": "2"})
    assert first.status == 200
    assert len(first.body["items"]) == 2
    assert first.body["next_token"]

    seen = [item["name"] for item in first.body["items"]]
    token = first.body["next_token"]
    while token:
        page = api("GET", BASKETS, query={"limit": "2", "next_token": token})
        assert page.status == 200
        seen += [item["name"] for item in page.body["items"]]
        token = page.body["next_token"]
    assert sorted(seen) == sorted(names)


def test_default_page_size_is_25(api):
    for i in range(27):
        create_basket(api, name=f"B{i}")

    response = api("GET", BASKETS)

    assert len(response.body["items"]) == 25
    assert response.body["next_token"]


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_outside_1_to_100_is_a_422(api, limit):
    response = api("GET", BASKETS, query={"limit": limit})

    assert response.status == 422
    assert response.body["details"][0]["field"] == "limit"


def test_tampered_token_is_a_400(api):
    for i in range(3):
        create_basket(api, name=f"B{i}")
    token = api("GET", BASKETS, query={"limit": "1"}).body["next_token"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    for bad in (tampered, "not-a-token", "x" * 300):
        response = api("GET", BASKETS, query={"next_token": bad})
        assert response.status == 400, bad
        assert response.body["code"] == "INVALID_CURSOR"
        assert response.body["details"] == [{"field": "next_token", "issue": "invalid or tampered cursor"}]


def test_another_users_token_is_a_400(api):
    for i in range(3):
        create_basket(api, name=f"B{i}")
    token = api("GET", BASKETS, query={"limit": "1"}).body["next_token"]

    response = api("GET", BASKETS, user="user-b", query={"next_token": token})

    assert response.status == 400


def test_update_needs_the_current_version(api):
    basket = create_basket(api)

    updated = api("PUT", BASKET, basket_id=basket["basket_id"], body={"version": 1, "name": "Renamed"})
    assert updated.status == 200
    assert updated.body["name"] == "Renamed"
    assert updated.body["version"] == 2
    assert updated.body["updated_at"] >= basket["updated_at"]

    stale = api("PUT", BASKET, basket_id=basket["basket_id"], body={"version": 1, "name": "Lost update"})
    assert stale.status == 409
    assert stale.body["code"] == "VERSION_CONFLICT"
    assert api("GET", BASKET, basket_id=basket["basket_id"]).body["basket"]["name"] == "Renamed"


def test_delete_removes_the_basket(api):
    basket = create_basket(api)

    deleted = api("DELETE", BASKET, basket_id=basket["basket_id"])

    assert deleted.status == 204
    assert not deleted.raw_body
    assert api("GET", BASKET, basket_id=basket["basket_id"]).status == 404
    assert api("GET", BASKETS).body["items"] == []


def test_delete_with_a_stale_version_is_a_409(api):
    basket = create_basket(api)
    api("PUT", BASKET, basket_id=basket["basket_id"], body={"version": 1, "name": "Changed"})

    response = api("DELETE", BASKET, basket_id=basket["basket_id"], query={"version": "1"})

    assert response.status == 409
    assert api("GET", BASKET, basket_id=basket["basket_id"]).status == 200


def test_unknown_basket_is_a_404_in_the_error_model(api):
    response = api("GET", BASKET, basket_id="no-such-basket")

    assert response.status == 404
    assert response.body["code"] == "NOT_FOUND"
    assert set(response.body) == {"code", "message", "details"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "ok", "visibility": "PUBLIC"}, "visibility"),
        ({"name": "ok", "owner": "user-b"}, "owner"),
        ({}, "name"),
    ],
)
def test_invalid_basket_is_a_422_naming_the_field(api, body, field):
    response = api("POST", BASKETS, body=body)

    assert response.status == 422
    assert response.body["code"] == "VALIDATION_ERROR"
    assert field in [detail["field"] for detail in response.body["details"]]


@pytest.mark.parametrize("raw", ["{", '{"name": "x",}', "not json", "\x00"])
def test_malformed_json_is_a_400(api, raw):
    response = api("POST", BASKETS, raw_body=raw, headers={"Content-Type": "application/json"})

    assert response.status == 400
    assert response.body["code"] == "MALFORMED_JSON"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data", "application/x-www-form-urlencoded"]
)
def test_non_json_body_is_a_415(api, content_type):
    response = api("POST", BASKETS, raw_body='{"name": "x"}', headers={"Content-Type": content_type})

    assert response.status == 415
    assert response.body["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert api("GET", BASKETS).body["items"] == []


def test_body_that_is_not_utf8_text_is_a_400(api):
    import base64

    event_body = base64.b64encode(b"\x88\xffiI\x00").decode()
    response = api(
        "POST", BASKETS, raw_body=event_body, headers={"Content-Type": "application/json"}, base64_body=True
    )

    assert response.status == 400
    assert response.body["code"] == "MALFORMED_JSON"
