"""Previewing a strategy draft: the contracts an entry would trade now, at their prices, with the
payoff at expiry and the Greeks; a draft saving would refuse is a 422 by the field, no fresh
quote is a 503, and nothing is ever stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest

from shared_utils.clock import to_ist
from shared_utils.execution.planning import plan_entry
from shared_utils.market_data.cache import QuoteCache
from shared_utils.market_data.models import Quote
from shared_utils.models.allocation import BrokerAllocation
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import Strategy, StrategyCreate
from tests.integration.api.conftest import strategy_body

PREVIEW = "/options/strategy-preview"
NIFTY = Decimal("26012.5")


@pytest.fixture
def nifty_quoted(aws: dict[str, Any]) -> None:
    """The minute's refresh cached NIFTY's level: the simulated market prices its chains around it."""
    now = aws["clock"].now()
    cache = QuoteCache(aws["dynamodb"], aws["settings"].trading_table_name)
    cache.put([Quote(instrument="NIFTY", last_price=NIFTY, as_of=now)], now)


def stored_items(aws: dict[str, Any]) -> int:
    client = boto3.client("dynamodb")
    settings = aws["settings"]
    return sum(
        client.scan(TableName=table, Select="COUNT")["Count"]
        for table in (settings.trading_table_name, settings.history_table_name)
    )


def planned_entry(aws: dict[str, Any], body: dict[str, Any]) -> dict[int, Any]:
    """The orders the entry planner makes for the same draft on the same market, by leg."""
    root, now = aws["platform"], aws["clock"].now()
    strategy = Strategy.model_validate(
        {
            **StrategyCreate.model_validate(body).model_dump(),
            "strategy_id": "s-1",
            "user_id": "user-a",
            "basket_id": "b-1",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    )
    allocation = BrokerAllocation(
        allocation_id="a-1",
        user_id="user-a",
        scope=AllocationScope.STRATEGY,
        scope_id="s-1",
        basket_id="b-1",
        broker_account_id="acct-1",
        broker="ZERODHA",
        lots=1,
        version=1,
        created_at=now,
        updated_at=now,
    )
    plan = plan_entry(strategy, [allocation], to_ist(now).date(), root.option_market, root.calendar())
    assert plan.unresolved_reason is None
    return {order.leg_no: order for order in plan.orders}


def test_an_iron_condor_draft_shows_the_contracts_an_entry_would_trade_with_its_payoff_and_greeks(
    api, aws, nifty_quoted
):
    body = strategy_body()
    before = stored_items(aws)

    response = api("POST", PREVIEW, body=body)

    assert response.status == 200, response.body
    preview = response.body
    planned = planned_entry(aws, body)
    assert [leg["leg_no"] for leg in preview["legs"]] == [1, 2, 3, 4]
    for leg in preview["legs"]:
        order = planned[leg["leg_no"]]
        assert type(leg["strike"]) in (int, float)  # a plain JSON number, never "2.61E+4"
        assert Decimal(str(leg["strike"])) == order.instrument.strike
        assert (leg["expiry"], leg["option_type"], leg["side"]) == (
            order.instrument.expiry.isoformat(),
            order.instrument.option_type.value,
            order.side.value,
        )
        assert (leg["lots"], leg["lot_size"]) == (1, order.lot_size)
        assert Decimal(str(leg["premium"])) == aws["platform"].option_market.price(order.instrument)
        assert 0 < leg["iv"] < 1
    assert preview["underlying"] == "NIFTY" and preview["underlying_price"] == float(NIFTY)
    assert preview["expiry"] == preview["legs"][0]["expiry"]

    payoff = preview["payoff"]
    credit = sum(
        (1 if leg["side"] == "SELL" else -1) * leg["premium"] * leg["lot_size"] for leg in preview["legs"]
    )
    assert payoff["max_profit"] == pytest.approx(credit, abs=0.05)
    assert 0 < payoff["max_loss"] < 1e6
    low, high = payoff["breakevens"]
    strikes = sorted(leg["strike"] for leg in preview["legs"])
    assert strikes[0] < low < strikes[1] and strikes[2] < high < strikes[3]
    prices = [point["price"] for point in payoff["points"]]
    assert 115 <= len(prices) <= 130 and prices == sorted(prices) and set(strikes) <= set(prices)
    assert max(point["pnl"] for point in payoff["points"]) == pytest.approx(payoff["max_profit"], abs=0.05)

    greeks = preview["greeks"]  # short the wings' middle: short gamma and vega, earning time decay
    assert greeks["gamma"] < 0 and greeks["vega_per_point"] < 0 and greeks["theta_per_day"] > 0
    assert abs(greeks["delta"]) < 75
    assert stored_items(aws) == before


def test_a_draft_saving_would_refuse_is_a_422_naming_the_field(api, nifty_quoted):
    no_lots = strategy_body()
    no_lots["legs"][1]["lots"] = 0
    weekly_banknifty = strategy_body(underlying="BANKNIFTY")
    for leg in weekly_banknifty["legs"]:
        leg["expiry"] = "CURRENT_WEEKLY"

    for body, field in ((no_lots, "legs.1.lots"), (weekly_banknifty, "legs.0.expiry")):
        response = api("POST", PREVIEW, body=body)

        assert response.status == 422, response.body
        assert response.body["code"] == "VALIDATION_ERROR"
        assert field in [detail["field"] for detail in response.body["details"]]


def test_without_a_fresh_quote_nothing_is_priced_and_nothing_is_stored(api, aws):
    before = stored_items(aws)

    response = api("POST", PREVIEW, body=strategy_body())

    assert response.status == 503, response.body
    assert response.body["code"] == "NO_FRESH_QUOTE"
    assert "NIFTY" in response.body["message"]
    assert stored_items(aws) == before
