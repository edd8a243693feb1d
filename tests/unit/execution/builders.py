"""Builders shared by the execution tests: strategies, allocations and a simulated market."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared_utils.clock import FixedClock
from shared_utils.execution.market import SimulatedOptionMarket
from shared_utils.models.allocation import BrokerAllocation
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import Leg, Strategy

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 09:30 IST, Wednesday
LEVELS = {
    "NIFTY": Decimal("26010"),
    "BANKNIFTY": Decimal("59040"),
    "FINNIFTY": Decimal("27490"),
    "MIDCPNIFTY": Decimal("13510"),
    "NIFTYNXT50": Decimal("70020"),
    "SENSEX": Decimal("85030"),
    "BANKEX": Decimal("66010"),
}


def leg(
    action: str = "SELL", option_type: str = "CE", *, expiry: str = "CURRENT_WEEKLY", **extra: Any
) -> Leg:
    strike = extra.pop("strike", {"method": "ATM_OFFSET", "steps": 0})
    return Leg.model_validate(
        {"action": action, "option_type": option_type, "strike": strike, "expiry": expiry, **extra}
    )


def strategy(
    legs: list[Leg] | None = None,
    *,
    underlying: str = "NIFTY",
    strategy_id: str = "strat-1",
    user_id: str = "user-a",
    **extra: Any,
) -> Strategy:
    return Strategy.model_validate(
        {
            "strategy_id": strategy_id,
            "user_id": user_id,
            "basket_id": "basket-1",
            "name": "Iron condor",
            "underlying": underlying,
            "product": "MIS",
            "status": "ACTIVE",
            "legs": legs or [leg()],
            "entry": {"time": "09:30", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
            "exit": {"time": "15:10"},
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
            **extra,
        }
    )


def iron_condor(**extra: Any) -> Strategy:
    return strategy(
        [
            leg("SELL", "CE", strike={"method": "ATM_OFFSET", "steps": 2}),
            leg("BUY", "CE", strike={"method": "ATM_OFFSET", "steps": 6}),
            leg("SELL", "PE", strike={"method": "ATM_OFFSET", "steps": -2}),
            leg("BUY", "PE", strike={"method": "ATM_OFFSET", "steps": -6}),
        ],
        **extra,
    )


def allocation(account: str, lots: int = 1, broker: str = "PAPER", **limits: Any) -> BrokerAllocation:
    return BrokerAllocation(
        allocation_id=f"alloc-{account}",
        user_id="user-a",
        scope=AllocationScope.STRATEGY,
        scope_id="strat-1",
        basket_id="basket-1",
        broker_account_id=account,
        broker=broker,
        lots=lots,
        version=1,
        created_at=NOW,
        updated_at=NOW,
        **limits,
    )


def market(
    clock: FixedClock | None = None, levels: dict[str, Decimal] | None = None
) -> SimulatedOptionMarket:
    table = dict(LEVELS if levels is None else levels)
    return SimulatedOptionMarket(table.get, clock or FixedClock(NOW))
