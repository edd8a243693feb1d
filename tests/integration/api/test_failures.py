"""Failures a client must be able to handle: throttling, missing identity, unknown routes,
and first attempts that fail under an Idempotency-Key."""

from __future__ import annotations

import re

import pytest
from botocore.awsrequest import AWSResponse

from shared_utils.api.catalog import API_ROUTES
from shared_utils.composition import Platform, platform
from tests.events import api_event
from tests.integration.api.conftest import invoke, strategy_body


@pytest.fixture
def throttled(api):
    """Every DynamoDB call answers ProvisionedThroughputExceededException (injected before send)."""
    client = platform().dynamodb

    def refuse(**_kwargs):
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
        return AWSResponse("https://dynamodb", 400, {}, None), error | {
            "ResponseMetadata": {"HTTPStatusCode": 400}
        }

    client.meta.events.register("before-call.dynamodb.*", refuse, unique_id="throttle")
    yield
    client.meta.events.unregister("before-call.dynamodb.*", unique_id="throttle")


def test_throttled_storage_is_a_429_with_retry_after(api, throttled):
    for method, path in (("GET", "/options/baskets"), ("POST", "/options/baskets")):
        response = api(method, path, body={"name": "x"} if method == "POST" else None)
        assert response.status == 429
        assert response.body["code"] == "THROTTLED"
        assert response.headers.get("Retry-After") == "1", response.headers


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_every_route_needs_an_identity(api, route):
    params = {name: "some-id" for name in re.findall(r"\{(\w+)\}", route.path)}
    body = {"name": "x"} if route.method in {"POST", "PUT"} else None

    response = api(route.method, route.path, user=None, body=body, **params)

    assert response.status == 401
    assert response.body["code"] == "UNAUTHORIZED"


def test_unknown_path_in_a_module_is_a_404_in_the_error_model(aws):
    response = invoke("basket_manager", api_event("GET", "/options/nothing-here"))

    assert response.status == 404
    assert set(response.body) == {"code", "message", "details"}


def test_failed_first_attempt_is_not_replayed_on_retry(api):
    key = {"Idempotency-Key": "retry-after-fix-0001"}
    basket_id = api("POST", "/options/baskets", body={"name": "Full"}).body["basket_id"]
    for i in range(10):
        api(
            "POST",
            "/options/baskets/{basket_id}/strategies",
            basket_id=basket_id,
            body=strategy_body(name=f"S{i}"),
        )
    full = api(
        "POST",
        "/options/baskets/{basket_id}/strategies",
        basket_id=basket_id,
        body=strategy_body(),
        headers=key,
    )
    assert full.status == 409

    strategies = api("GET", "/options/strategies", query={"basket_id": basket_id}).body["items"]
    api("DELETE", "/options/strategies/{strategy_id}", strategy_id=strategies[0]["strategy_id"])
    retried = api(
        "POST",
        "/options/baskets/{basket_id}/strategies",
        basket_id=basket_id,
        body=strategy_body(),
        headers=key,
    )

    assert retried.status == 201
    replayed = api(
        "POST",
        "/options/baskets/{basket_id}/strategies",
        basket_id=basket_id,
        body=strategy_body(),
        headers=key,
    )
    assert replayed.body == retried.body


def test_same_key_on_another_basket_is_rejected(api):
    key = {"Idempotency-Key": "one-key-two-targets"}
    first = api("POST", "/options/baskets", body={"name": "One"}).body["basket_id"]
    second = api("POST", "/options/baskets", body={"name": "Two"}).body["basket_id"]
    api("POST", "/options/baskets/{basket_id}/strategies", basket_id=first, body=strategy_body(), headers=key)

    response = api(
        "POST", "/options/baskets/{basket_id}/strategies", basket_id=second, body=strategy_body(), headers=key
    )

    assert response.status == 422
    assert response.body["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_unexpected_failure_is_a_generic_500_without_internals(api, monkeypatch):
    def broken():
        raise RuntimeError("boom in /var/task/shared_utils/repository/trading.py line 42")

    monkeypatch.setattr(Platform, "trading_repository", property(lambda _root: broken()))

    response = api("GET", "/options/baskets")

    assert response.status == 500
    assert response.body == {
        "code": "INTERNAL_ERROR",
        "message": "Something went wrong on our side; retry later",
        "details": [],
    }
    assert "trading.py" not in response.raw_body


APP = "https://trade.firm.in"


@pytest.fixture
def web_app(api, monkeypatch):
    from shared_utils.settings import load_settings

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", f"{APP},https://staging.firm.in")
    load_settings.cache_clear()
    yield api
    load_settings.cache_clear()


def test_the_web_apps_origin_may_read_every_answer_errors_included(web_app):
    """A browser hides a cross-origin answer without Access-Control-Allow-Origin from the app."""
    created = web_app("POST", "/options/baskets", body={"name": "Weekly"}, headers={"Origin": APP})
    missing = web_app("GET", "/options/baskets/{basket_id}", basket_id="nope", headers={"origin": APP})
    no_identity = invoke(
        "basket_manager", api_event("GET", "/options/baskets", user=None, headers={"Origin": APP})
    )
    for response in (created, missing, no_identity):
        assert response.headers.get("Access-Control-Allow-Origin") == APP, response.headers
        assert "Origin" in response.headers.get("Vary", "")
    assert (created.status, missing.status, no_identity.status) == (201, 404, 401)


def test_another_origin_is_not_named(web_app):
    response = web_app("GET", "/options/baskets", headers={"Origin": "https://elsewhere.example.org"})
    assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers
