"""The WSGI adapter speaks HTTP on one side and API Gateway proxy events on the other."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.test import Client

from local_platform.dispatch import match_route
from local_platform.wsgi import ProxyEventWsgiApp, fixed_claims, local_app

seen: list[dict[str, Any]] = []


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    return {
        "statusCode": 201,
        "multiValueHeaders": {"Content-Type": ["application/json"], "Retry-After": ["1"]},
        "body": json.dumps({"ok": True}),
        "isBase64Encoded": False,
    }


def test_request_becomes_a_rest_proxy_event_with_the_callers_claims():
    seen.clear()
    client = Client(ProxyEventWsgiApp(claims=fixed_claims("user-a", ["traders"]), handler=echo))

    response = client.post(
        "/options/baskets?limit=5&tag=a&tag=b", json={"name": "x"}, headers={"Idempotency-Key": "k-123456"}
    )

    assert response.status_code == 201
    assert response.json == {"ok": True}
    assert response.headers["Retry-After"] == "1"
    event = seen[0]
    assert (event["httpMethod"], event["path"]) == ("POST", "/options/baskets")
    assert json.loads(event["body"]) == {"name": "x"}
    assert event["headers"]["Idempotency-Key"] == "k-123456"
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["queryStringParameters"] == {"limit": "5", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["requestContext"]["authorizer"]["claims"] == {"sub": "user-a", "cognito:groups": "traders"}


def test_no_claims_means_no_authorizer_context():
    seen.clear()
    Client(ProxyEventWsgiApp(claims=lambda headers: None, handler=echo)).get("/options/baskets")

    assert "authorizer" not in seen[0]["requestContext"]


def test_binary_body_is_passed_base64_encoded():
    seen.clear()
    Client(ProxyEventWsgiApp(claims=fixed_claims("u"), handler=echo)).post(
        "/options/baskets", data=b"\xff\xfe"
    )

    assert seen[0]["isBase64Encoded"] is True


def test_routes_match_like_api_gateway():
    route, params = match_route("PUT", "/options/strategies/s-1/brokers/a-9")
    assert (route.module, params) == (
        "strategy_broker_allocator",
        {"strategy_id": "s-1", "allocation_id": "a-9"},
    )
    route, params = match_route("GET", "/options/strategy-templates")
    assert (route.module, params) == ("strategy_templates", {})
    assert match_route("PATCH", "/options/baskets/b-1") is None
    assert match_route("GET", "/options/baskets/b-1/extra/deep") is None


def test_unknown_route_is_a_404_in_the_error_model():
    response = Client(ProxyEventWsgiApp(claims=fixed_claims("u"))).get("/nowhere")

    assert response.status_code == 404
    assert response.json == {"code": "NOT_FOUND", "message": "No such resource", "details": []}


def test_local_mode_serves_swagger_ui_and_the_contract_without_a_token(test_settings, monkeypatch):
    for name, value in test_settings.as_environment().items():
        monkeypatch.setenv(name, value)
    client = Client(local_app(claims=lambda headers: None))

    page = client.get("/docs")
    document = client.get("/docs?format=json")

    assert page.status_code == 200
    assert "swagger" in page.text.lower()
    assert document.status_code == 200
    assert "/options/baskets/{basket_id}" in document.json["paths"]
    assert client.get("/options/baskets").status_code == 401
