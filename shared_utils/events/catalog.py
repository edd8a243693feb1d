"""The timer's event vocabulary: one place for the bus source, detail-types and the handler of each.

The CDK stack builds its EventBridge rules from `rule_pattern`, and the local platform routes
events with the same patterns, so deployed and local routing cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

EVENT_SOURCE = "options.timer"
ENVELOPE_VERSION = "1"


class DetailType(StrEnum):
    SCHEDULE_STRATEGY_TRIGGER = "ScheduleStrategyTrigger"
    CHECK_STOP_LOSS = "CheckStopLoss"
    CHECK_DUPLICATE_ORDERS = "CheckDuplicateOrders"
    REFRESH_MARKET_DATA = "RefreshMarketData"
    # Published by the market-data refresh once the minute's quotes are stored (not by the
    # emitter): the live feed re-marks open positions on it.
    QUOTES_REFRESHED = "QuotesRefreshed"


# Published by a handler after its work, never by the emitter.
ANNOUNCEMENTS = frozenset({DetailType.QUOTES_REFRESHED})

# detail-type -> handler module (under lambda_functions/option_baskets/), exactly one each.
HANDLER_MODULES: dict[DetailType, str] = {
    DetailType.SCHEDULE_STRATEGY_TRIGGER: "schedule_trigger",
    DetailType.CHECK_STOP_LOSS: "stop_loss_checker",
    DetailType.CHECK_DUPLICATE_ORDERS: "duplicate_order_checker",
    DetailType.REFRESH_MARKET_DATA: "market_data_refresher",
    DetailType.QUOTES_REFRESHED: "feed_broadcaster",
}


def rule_pattern(detail_type: DetailType) -> dict[str, Any]:
    """EventBridge event pattern that routes one detail-type to its handler."""
    return {"source": [EVENT_SOURCE], "detail-type": [detail_type.value]}


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Evaluate the subset of EventBridge pattern syntax the rules use (exact-value lists)."""
    return all(event.get(key) in allowed for key, allowed in pattern.items())
