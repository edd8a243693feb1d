"""The public signal endpoint driven as API Gateway invokes it (REST proxy events, no authorizer)
on moto, with the execution tests' platform: paper brokers per account and the real executor.

The installed composition root (the webhook function's) builds the real dispatcher; its run queue
is the execution platform's in-line queue, so a test sees what a signal queued and drains it
through the executor when it wants the orders. Both run on one clock, the execution tests' fixed
instant in a session (2026-11-25 09:30 IST): these tests do not move with `PLATFORM_NOW`."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from shared_utils.api.catalog import SIGNAL_WEBHOOK
from shared_utils.clock import FixedClock
from tests.events import load_event
from tests.integration.api.conftest import ApiResponse, api, invoke  # noqa: F401  (fixtures, shared)
from tests.integration.execution.conftest import (  # noqa: F401  (fixtures, shared)
    InlineQueue,
    Platform,
    brokers,
    clock,
    platform,
    sim,
    store,
)

JSON = "application/json; charset=utf-8"


@pytest.fixture
def platform_clock(clock: FixedClock) -> FixedClock:  # noqa: F811
    """The composition root's clock is the executor's: one instant for the dispatcher and the runs."""
    return clock


@pytest.fixture
def runs(aws: dict[str, Any], platform: Platform) -> InlineQueue:  # noqa: F811
    """Where the root's dispatcher queues signal runs: the execution platform's queue."""
    aws["platform"].__dict__["run_queue"] = platform.queue
    return platform.queue


def signal_event(
    token: str, body: bytes | str | None, content_type: str = JSON, *, as_base64: bool = False
) -> dict[str, Any]:
    """The proxy event API Gateway sends for a chart platform's POST /signals/{token}."""
    event = load_event("signals/rest_proxy_signal.json")
    event["path"] = f"/signals/{token}"
    event["pathParameters"] = {"token": token}
    event["requestContext"]["path"] = f"/test/signals/{token}"
    event["headers"]["Content-Type"] = content_type
    raw = body.encode() if isinstance(body, str) else body
    if raw is not None:
        event["body"] = base64.b64encode(raw).decode() if as_base64 else raw.decode("utf-8", "replace")
        event["isBase64Encoded"] = as_base64
    return event


def post_signal(token: str, body: Any, content_type: str = JSON) -> ApiResponse:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return invoke(SIGNAL_WEBHOOK, signal_event(token, raw, content_type))


def token_of(url_path: str) -> str:
    return url_path.removeprefix("/signals/")


@pytest.fixture
def create_webhook(api: Callable[..., ApiResponse]) -> Callable[..., dict[str, Any]]:  # noqa: F811
    """`create_webhook(strategy_id, action, format, **fields)` through the API; the answer
    (with its `url_path`, shown this once)."""

    def create(
        strategy_id: str, action: str = "ENTER", format: str = "TRADINGVIEW", **fields: Any
    ) -> dict[str, Any]:
        body = {"strategy_id": strategy_id, "action": action, "format": format, **fields}
        response = api("POST", "/options/webhooks", body=body)
        assert response.status == 201, response.body
        return dict(response.body)

    return create


@pytest.fixture
def signals_of(api: Callable[..., ApiResponse]) -> Callable[[str], list[dict[str, Any]]]:  # noqa: F811
    """A webhook's signals as its owner lists them, newest first."""

    def listed(webhook_id: str) -> list[dict[str, Any]]:
        response = api("GET", "/options/webhooks/{webhook_id}/signals", webhook_id=webhook_id)
        assert response.status == 200, response.body
        return list(response.body["items"])

    return listed
