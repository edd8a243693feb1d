"""The marketplace through the API: publish (admins only), browse, read-only strategies,
subscribe / pause / resume / unsubscribe, exact subscriber counts, bad input, isolation."""

from __future__ import annotations

from shared_utils.clock import to_ist
from tests.integration.marketplace.conftest import ADMINS, TERMS


def test_a_non_admin_cannot_publish_even_their_own_basket(api, admin_basket):
    basket = admin_basket("trader-1")

    response = api(
        "PUT",
        "/options/marketplace/listings/{basket_id}",
        basket_id=basket.basket_id,
        user="trader-1",
        body=TERMS,
    )

    assert response.status == 403
    assert response.body["code"] == "FORBIDDEN"
    assert api("GET", "/options/marketplace/listings", user="trader-2").body["items"] == []


def test_published_basket_shows_its_strategies_read_only_without_the_owners_accounts(
    api, admin_basket, publish
):
    basket = admin_basket()

    listing = publish(basket)
    detail = api(
        "GET", "/options/marketplace/listings/{basket_id}", basket_id=basket.basket_id, user="trader-1"
    )

    assert listing["state"] == "PUBLISHED" and listing["subscriber_count"] == 0
    assert listing["underlyings"] == ["NIFTY"] and listing["fee"] == {
        "monthly_fee": 999.0,
        "performance_fee_pct": 10.0,
    }
    assert detail.status == 200
    assert [s["strategy_id"] for s in detail.body["strategies"]] == [basket.strategy_id]
    assert len(detail.body["strategies"][0]["legs"]) == 4
    for secret in (basket.admin_account, basket.admin, "allocation"):
        assert secret not in detail.raw_body


def test_browse_orders_by_subscribers_and_filters(api, admin_basket, publish, subscribe):
    quiet = admin_basket("admin-1", "Quiet", "BANKNIFTY")
    popular = admin_basket("admin-2", "Popular", "NIFTY")
    publish(quiet, risk_level="LOW", category="HEDGED")
    publish(popular)
    for user in ("u1", "u2"):
        assert subscribe(user, popular.basket_id, {"zerodha": 1}).status == 201
    assert subscribe("u3", quiet.basket_id, {"zerodha": 1}).status == 201

    everything = api("GET", "/options/marketplace/listings", user="u9").body["items"]
    low_risk = api("GET", "/options/marketplace/listings", user="u9", query={"risk_level": "LOW"}).body
    nifty = api("GET", "/options/marketplace/listings", user="u9", query={"underlying": "NIFTY"}).body
    first = api("GET", "/options/marketplace/listings", user="u9", query={"limit": "1"}).body
    second = api(
        "GET",
        "/options/marketplace/listings",
        user="u9",
        query={"limit": "1", "next_token": first["next_token"]},
    ).body

    assert [(item["name"], item["subscriber_count"]) for item in everything] == [("Popular", 2), ("Quiet", 1)]
    assert [item["name"] for item in low_risk["items"]] == ["Quiet"]
    assert [item["name"] for item in nifty["items"]] == ["Popular"]
    assert [item["name"] for item in first["items"] + second["items"]] == ["Popular", "Quiet"]


def test_subscribe_on_two_brokers_pause_resume_unsubscribe(api, admin_basket, publish, subscribe):
    basket = admin_basket()
    publish(basket)

    created = subscribe("trader-1", basket.basket_id, {"zerodha": 2, "angel": 1})
    path = "/options/subscriptions/{basket_id}"
    paused = api(
        "PUT", path, basket_id=basket.basket_id, user="trader-1", body={"version": 1, "status": "PAUSED"}
    )
    resumed = api(
        "PUT", path, basket_id=basket.basket_id, user="trader-1", body={"version": 2, "status": "ACTIVE"}
    )
    stale = api(
        "PUT", path, basket_id=basket.basket_id, user="trader-1", body={"version": 2, "status": "PAUSED"}
    )

    assert created.status == 201, created.body
    assert [(a["broker"], a["lots"]) for a in created.body["allocations"]] == [
        ("ZERODHA", 2),
        ("ANGEL_ONE", 1),
    ]
    assert created.body["fee"] == {"monthly_fee": 999.0, "performance_fee_pct": 10.0}
    assert paused.body["status"] == "PAUSED" and resumed.body["status"] == "ACTIVE"
    assert stale.status == 409
    listed = api("GET", "/options/subscriptions", user="trader-1").body["items"]
    assert [item["basket_id"] for item in listed] == [basket.basket_id]

    gone = api("DELETE", path, basket_id=basket.basket_id, user="trader-1")

    assert gone.status == 204
    assert api("GET", path, basket_id=basket.basket_id, user="trader-1").status == 404
    assert api("GET", "/options/subscriptions", user="trader-1").body["items"] == []
    listing = api("GET", "/options/marketplace/listings/{basket_id}", basket_id=basket.basket_id, user="x")
    assert listing.body["listing"]["subscriber_count"] == 0
    again = subscribe("trader-1", basket.basket_id, {"zerodha": 1})
    assert again.status == 201 and again.body["status"] == "ACTIVE"


def test_subscribing_twice_is_a_409_and_the_count_stays_exact(api, admin_basket, publish, subscribe):
    basket = admin_basket()
    publish(basket)

    first = subscribe("trader-1", basket.basket_id, {"zerodha": 1})
    second = subscribe("trader-1", basket.basket_id, {"zerodha": 5})

    assert first.status == 201
    assert second.status == 409 and second.body["code"] == "ALREADY_EXISTS"
    mine = api("GET", "/options/subscriptions/{basket_id}", basket_id=basket.basket_id, user="trader-1").body
    assert mine["allocations"][0]["lots"] == 1
    listing = api("GET", "/options/marketplace/listings/{basket_id}", basket_id=basket.basket_id, user="x")
    assert listing.body["listing"]["subscriber_count"] == 1


def test_allocations_on_someone_elses_account_are_a_422_on_that_field(
    api, admin_basket, publish, seed_broker_account
):
    basket = admin_basket()
    publish(basket)
    seed_broker_account("trader-2", "trader-2-zerodha", "ZERODHA")
    seed_broker_account("trader-1", "trader-1-zerodha", "ZERODHA")

    response = api(
        "POST",
        "/options/subscriptions",
        user="trader-1",
        body={
            "basket_id": basket.basket_id,
            "allocations": [
                {"broker_account_id": "trader-1-zerodha", "lots": 1},
                {"broker_account_id": "trader-2-zerodha", "lots": 1},
            ],
        },
    )

    assert response.status == 422
    assert response.body["details"] == [
        {"field": "allocations.1.broker_account_id", "issue": "no such broker account for this user"}
    ]
    assert api("GET", "/options/subscriptions", user="trader-1").body["items"] == []


def test_unpublished_or_unknown_baskets_are_a_404_to_subscribers(api, admin_basket, publish, subscribe):
    never = admin_basket("admin-1", "Never listed")
    withdrawn = admin_basket("admin-2", "Withdrawn")
    publish(withdrawn)
    unpublished = api(
        "DELETE",
        "/options/marketplace/listings/{basket_id}",
        basket_id=withdrawn.basket_id,
        user="admin-2",
        groups=ADMINS,
    )

    assert unpublished.status == 204
    for basket_id in (never.basket_id, withdrawn.basket_id, "no-such-basket"):
        response = subscribe("trader-1", basket_id, {"zerodha": 1})
        assert response.status == 404, response.body
        detail = api("GET", "/options/marketplace/listings/{basket_id}", basket_id=basket_id, user="trader-1")
        assert detail.status == 404
    assert api("GET", "/options/marketplace/listings", user="trader-1").body["items"] == []


def test_republishing_needs_the_current_version(api, admin_basket, publish):
    basket = admin_basket()
    publish(basket)
    path = "/options/marketplace/listings/{basket_id}"

    stale = api(
        "PUT", path, basket_id=basket.basket_id, user=basket.admin, groups=ADMINS, body=TERMS | {"version": 7}
    )
    missing = api("PUT", path, basket_id=basket.basket_id, user=basket.admin, groups=ADMINS, body=TERMS)
    edited = api(
        "PUT",
        path,
        basket_id=basket.basket_id,
        user=basket.admin,
        groups=ADMINS,
        body=TERMS | {"version": 1, "risk_level": "HIGH"},
    )

    assert stale.status == 409
    assert missing.status == 422 and missing.body["details"][0]["field"] == "version"
    assert edited.status == 200 and edited.body["risk_level"] == "HIGH" and edited.body["version"] == 2


def test_admins_cannot_publish_or_unpublish_someone_elses_basket(api, admin_basket, publish):
    mine = admin_basket("admin-1")
    publish(mine)
    other = admin_basket("admin-2")
    path = "/options/marketplace/listings/{basket_id}"

    hijack = api(
        "PUT", path, basket_id=mine.basket_id, user="admin-2", groups=ADMINS, body=TERMS | {"version": 1}
    )
    withdraw = api("DELETE", path, basket_id=mine.basket_id, user="admin-2", groups=ADMINS)
    foreign = api("PUT", path, basket_id=other.basket_id, user="admin-1", groups=ADMINS, body=TERMS)

    assert (hijack.status, withdraw.status, foreign.status) == (404, 404, 404)
    assert api("GET", path, basket_id=mine.basket_id, user="x").body["listing"]["state"] == "PUBLISHED"


def test_subscribers_never_see_each_other_and_the_admin_never_sees_their_accounts(
    api, admin_basket, publish, subscribe, platform_clock
):
    month = f"{to_ist(platform_clock.now()):%Y-%m}"  # the month the subscriptions are stamped in
    basket = admin_basket()
    publish(basket)
    subscribe("trader-1", basket.basket_id, {"zerodha": 2, "angel": 1})
    subscribe("trader-2", basket.basket_id, {"finvasia": 4})
    path = "/options/subscriptions/{basket_id}"

    one = api("GET", "/options/subscriptions", user="trader-1")
    listing = api(
        "GET", "/options/marketplace/listings/{basket_id}", basket_id=basket.basket_id, user="trader-1"
    )
    pause_other = api(
        "PUT", path, basket_id=basket.basket_id, user="trader-3", body={"version": 1, "status": "PAUSED"}
    )
    admin_view = api(
        "GET",
        "/options/marketplace/listings/{basket_id}/statements",
        basket_id=basket.basket_id,
        user=basket.admin,
        groups=ADMINS,
        query={"month": month},
    )
    not_owner = api(
        "GET",
        "/options/marketplace/listings/{basket_id}/statements",
        basket_id=basket.basket_id,
        user="trader-1",
        query={"month": month},
    )

    for secret in ("trader-2", "finvasia"):
        assert secret not in one.raw_body and secret not in listing.raw_body
    assert pause_other.status == 404
    assert api("GET", path, basket_id=basket.basket_id, user="trader-2").body["status"] == "ACTIVE"
    assert admin_view.status == 200
    assert sorted(item["subscriber_id"] for item in admin_view.body["items"]) == ["trader-1", "trader-2"]
    for account in ("trader-1-zerodha", "trader-1-angel", "trader-2-finvasia", "broker"):
        assert account not in admin_view.raw_body
    assert not_owner.status == 404


def test_statement_month_is_validated(api, admin_basket, publish, subscribe):
    basket = admin_basket()
    publish(basket)
    subscribe("trader-1", basket.basket_id, {"zerodha": 1})

    bad = api(
        "GET",
        "/options/subscriptions/{basket_id}/statement",
        basket_id=basket.basket_id,
        user="trader-1",
        query={"month": "2026-13"},
    )

    assert bad.status == 422 and bad.body["details"][0]["field"] == "month"


def test_the_canonical_admin_publish_event_publishes(api, admin_basket):
    from tests.events import load_event
    from tests.integration.api.conftest import invoke

    basket = admin_basket("admin-1")
    event = load_event("api/marketplace/publish_listing.json")
    event["path"] = event["path"].replace("BASKET_ID", basket.basket_id)
    event["pathParameters"] = {"basket_id": basket.basket_id}

    response = invoke("marketplace", event)

    assert response.status == 200, response.body
    assert response.body["basket_id"] == basket.basket_id and response.body["category"] == "INCOME"
