"""Strike by straddle width and by a premium bound (#22) through the API: a bad selection is a 422
naming the field, a good one is saved, and the preview shows the strike an entry would trade."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shared_utils.market.options import OptionType
from shared_utils.market.specs import default_specs
from shared_utils.market.strikes import atm_strike
from shared_utils.market_data.cache import QuoteCache
from shared_utils.market_data.models import Quote
from tests.integration.api.conftest import strategy_body

CREATE = "/options/baskets/{basket_id}/strategies"
PREVIEW = "/options/strategy-preview"
NIFTY = Decimal("26012.5")


@pytest.fixture
def basket_id(api):
    return api("POST", "/options/baskets", body={"name": "Theta"}).body["basket_id"]


@pytest.fixture
def nifty_quoted(aws: dict[str, Any]) -> None:
    """The minute's refresh cached NIFTY's level: the simulated market prices its chains around it."""
    now = aws["clock"].now()
    cache = QuoteCache(aws["dynamodb"], aws["settings"].trading_table_name)
    cache.put([Quote(instrument="NIFTY", last_price=NIFTY, as_of=now)], now)


def strangle(**strikes: dict[str, Any]) -> dict[str, Any]:
    """A short strangle whose CE and PE strikes are given; the expiry is the default body's."""
    expiry = strategy_body()["legs"][0]["expiry"]
    legs = [
        {"action": "SELL", "option_type": option_type, "strike": strike, "expiry": expiry}
        for option_type, strike in strikes.items()
    ]
    return strategy_body(name="Straddle-width strangle", legs=legs)


def test_a_straddle_multiple_out_of_range_is_a_422_naming_it_and_a_valid_one_is_saved(api, basket_id):
    refused = api(
        "POST",
        CREATE,
        basket_id=basket_id,
        body=strangle(CE={"method": "STRADDLE_WIDTH", "straddle_multiple": 9}),
    )

    assert refused.status == 422, refused.body
    assert [d["field"] for d in refused.body["details"]] == ["legs.0.strike.straddle_multiple"]

    created = api(
        "POST",
        CREATE,
        basket_id=basket_id,
        body=strangle(
            CE={"method": "STRADDLE_WIDTH", "straddle_multiple": 0.5},
            PE={"method": "STRADDLE_WIDTH", "straddle_multiple": -0.5},
        ),
    )

    assert created.status == 201, created.body
    strikes = [leg["strike"] for leg in created.body["legs"]]
    assert [(s["method"], Decimal(str(s["straddle_multiple"]))) for s in strikes] == [
        ("STRADDLE_WIDTH", Decimal("0.5")),
        ("STRADDLE_WIDTH", Decimal("-0.5")),
    ]
    stored = api("GET", "/options/strategies/{strategy_id}", strategy_id=created.body["strategy_id"])
    assert stored.body["strategy"]["legs"] == created.body["legs"]


def test_premium_bounds_share_target_premium_and_refuse_another_field(api, basket_id):
    refused = api(
        "POST",
        CREATE,
        basket_id=basket_id,
        body=strangle(CE={"method": "PREMIUM_AT_LEAST", "straddle_multiple": 1}),
    )

    assert refused.status == 422, refused.body
    assert sorted(d["field"] for d in refused.body["details"]) == [
        "legs.0.strike.straddle_multiple",
        "legs.0.strike.target_premium",
    ]
    created = api(
        "POST",
        CREATE,
        basket_id=basket_id,
        body=strangle(
            CE={"method": "PREMIUM_AT_LEAST", "target_premium": 40},
            PE={"method": "PREMIUM_AT_MOST", "target_premium": 40},
        ),
    )
    assert created.status == 201, created.body


def test_the_preview_shows_the_strikes_the_new_modes_resolve_to(api, aws, nifty_quoted):
    body = strangle(
        CE={"method": "STRADDLE_WIDTH", "straddle_multiple": 0.5},
        PE={"method": "STRADDLE_WIDTH", "straddle_multiple": -0.5},
    )

    straddle = api("POST", PREVIEW, body=body)
    bounds = api(
        "POST",
        PREVIEW,
        body=strangle(
            CE={"method": "PREMIUM_AT_LEAST", "target_premium": 40},
            PE={"method": "PREMIUM_AT_MOST", "target_premium": 40},
        ),
    )

    assert straddle.status == 200, straddle.body
    assert bounds.status == 200, bounds.body
    ce, pe = straddle.body["legs"]
    expiry = date.fromisoformat(ce["expiry"])
    chain = aws["platform"].option_market.chain("NIFTY", expiry)
    step = default_specs().spec_for("NIFTY", expiry).strike_step
    atm = atm_strike(chain)
    width = 0.5 * (chain.premium(OptionType.CE, atm) + chain.premium(OptionType.PE, atm))
    assert ce["strike"] == atm + round(width / step) * step
    assert pe["strike"] == atm - round(width / step) * step
    ce_bound, pe_bound = bounds.body["legs"]
    assert ce_bound["premium"] >= 40 >= pe_bound["premium"]


def test_a_preview_whose_strike_mode_finds_no_strike_is_a_503_with_the_reason(api, nifty_quoted):
    # No premium on any date reaches this (a straddle width off the chain depends on the day's
    # premiums and is shown in tests/unit/market/test_strike_modes.py).
    body = strangle(CE={"method": "PREMIUM_AT_LEAST", "target_premium": 99999})

    response = api("POST", PREVIEW, body=body)

    assert response.status == 503, response.body
    assert response.body["code"] == "MARKET_DATA_UNAVAILABLE"
    assert response.body["message"].startswith("leg 1: no CE premium at or above 99999 in the NIFTY ")
