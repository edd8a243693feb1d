"""Demo baskets for a simulated day: strategies from the project's templates, allocated across the
user's paper accounts, created through the API like a user would."""

from __future__ import annotations

from dataclasses import dataclass

from local_platform.accounts import paper_account_id
from local_platform.inprocess import InProcessApi
from shared_utils.models.strategy import ExpirySelection
from shared_utils.templates import TemplateName, template_legs

WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI"]


@dataclass(frozen=True)
class DemoStrategy:
    name: str
    underlying: str
    template: TemplateName
    expiry: ExpirySelection
    entry: str
    exit: str
    lots: dict[str, int]  # broker -> lots


@dataclass(frozen=True)
class DemoBasket:
    name: str
    description: str
    strategies: tuple[DemoStrategy, ...]


DEMO_BASKETS = (
    DemoBasket(
        "Demo: weekly income",
        "Range-bound premium selling on the weekly expiries",
        (
            DemoStrategy(
                "NIFTY iron condor",
                "NIFTY",
                TemplateName.IRON_CONDOR,
                ExpirySelection.CURRENT_WEEKLY,
                "09:20",
                "15:15",
                {"ZERODHA": 2, "ANGEL_ONE": 1},
            ),
            DemoStrategy(
                "SENSEX short strangle",
                "SENSEX",
                TemplateName.SHORT_STRANGLE,
                ExpirySelection.CURRENT_WEEKLY,
                "09:30",
                "15:00",
                {"ZERODHA": 1, "FINVASIA": 1},
            ),
        ),
    ),
    DemoBasket(
        "Demo: monthly directional",
        "Defined-risk spreads on the monthly contracts",
        (
            DemoStrategy(
                "BANKNIFTY bull call spread",
                "BANKNIFTY",
                TemplateName.BULL_CALL_SPREAD,
                ExpirySelection.CURRENT_MONTHLY,
                "10:00",
                "14:30",
                {"ANGEL_ONE": 2, "FINVASIA": 1},
            ),
        ),
    ),
)


def strategy_body(demo: DemoStrategy) -> dict[str, object]:
    return {
        "name": demo.name,
        "underlying": demo.underlying,
        "legs": [leg.model_dump(mode="json") for leg in template_legs(demo.template, demo.expiry)],
        "entry": {"time": demo.entry, "weekdays": WEEKDAYS},
        "exit": {"time": demo.exit},
    }


def ensure_demo_baskets(api: InProcessApi, user_id: str) -> list[str]:
    """Create the demo baskets when the user has none; returns the ids of the baskets created."""
    if api.call("GET", "/options/baskets")["items"]:
        return []
    created = []
    for basket in DEMO_BASKETS:
        made = api.call("POST", "/options/baskets", {"name": basket.name, "description": basket.description})
        basket_id = made["basket_id"]
        created.append(basket_id)
        for demo in basket.strategies:
            strategy = api.call("POST", f"/options/baskets/{basket_id}/strategies", strategy_body(demo))
            for broker, lots in demo.lots.items():
                api.call(
                    "POST",
                    f"/options/strategies/{strategy['strategy_id']}/brokers",
                    {"broker_account_id": paper_account_id(broker, user_id), "lots": lots},
                )
    return created
