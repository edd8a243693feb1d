"""Listing more than 1 MB of items, page by page through the API: every item exactly once, and a
cursor that was tampered with (or belongs to someone else) is a 400, never a page of data."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared_utils.models.basket import Basket
from shared_utils.models.items import BasketItem, ItemState

USER = "user-a"
BASKETS = 800
DELETING_EVERY = 9  # every ninth basket is being deleted: filtered out of listings


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name) + len(next(iter(value.values()))) for name, value in item.items())


@pytest.fixture
def many_baskets(aws: dict[str, Any]) -> set[str]:
    """800 baskets with 1,000-character descriptions (> 1 MB), written in batches of 25."""
    start = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
    active: set[str] = set()
    items: list[dict[str, Any]] = []
    for n in range(BASKETS):
        basket = Basket(
            basket_id=str(uuid.UUID(int=n + 1)),
            user_id=USER,
            name=f"Basket {n}",
            description=("x" * 990) + f"{n:010d}",
            version=1,
            created_at=start + timedelta(seconds=n),
            updated_at=start + timedelta(seconds=n),
        )
        item = BasketItem.from_domain(basket)
        if n % DELETING_EVERY == 0:
            item = item.model_copy(update={"state": ItemState.DELETING})
        else:
            active.add(basket.basket_id)
        items.append(item.to_dynamo())
    assert sum(map(item_bytes, items)) > 1024 * 1024
    table = aws["settings"].trading_table_name
    for first in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[first : first + 25]]
        aws["dynamodb"].batch_write_item(RequestItems={table: batch})
    return active


@pytest.mark.parametrize("limit", [100, pytest.param(7, marks=pytest.mark.slow)])
def test_paging_over_more_than_a_megabyte_returns_each_item_once(api, many_baskets, limit) -> None:
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": str(limit)} | ({"next_token": token} if token else {})
        page = api("GET", "/options/baskets", user=USER, query=query)
        assert page.status == 200, page.body
        assert len(page.body["items"]) <= limit
        seen += [item["basket_id"] for item in page.body["items"]]
        token = page.body.get("next_token")
        pages += 1
        if not token:
            break
        assert pages < 1000
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(seen) == many_baskets  # nothing lost, nothing being deleted


def tampered(token: str) -> list[str]:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    flipped = []
    for position in (0, len(raw) // 2, len(raw) - 1):
        copy = bytearray(raw)
        copy[position] ^= 0x01
        flipped.append(base64.urlsafe_b64encode(bytes(copy)).decode().rstrip("="))
    return [*flipped, token[:-2], token + "A", "not-a-cursor", ""]


def test_a_tampered_or_foreign_cursor_is_a_400(api, many_baskets) -> None:
    first = api("GET", "/options/baskets", user=USER, query={"limit": "10"})
    token = first.body["next_token"]
    for bad in tampered(token):
        if not bad:
            continue
        response = api("GET", "/options/baskets", user=USER, query={"limit": "10", "next_token": bad})
        assert response.status == 400, (bad, response.body)
        assert response.body["code"] in {"INVALID_CURSOR", "BAD_REQUEST", "INVALID_INPUT"}, response.body
        assert "Basket" not in response.raw_body

    # Someone else's (valid, signed) cursor does not open user-a's partition.
    foreign = api("GET", "/options/baskets", user="user-b", query={"limit": "10", "next_token": token})
    assert foreign.status == 400
    assert "Basket" not in foreign.raw_body
