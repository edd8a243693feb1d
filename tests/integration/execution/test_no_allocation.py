"""A strategy with no broker allocation (its own or its basket's) is accepted, its detail says it
cannot enter, and its day's record says why it was not entered: never a reasonless NOT_ENTERED."""

from __future__ import annotations

from datetime import date

from shared_utils.execution.models import ExecutionStatus
from shared_utils.models.allocation import NO_ALLOCATION_REASON
from tests.integration.execution.conftest import condor_body

TRADE_DATE = date(2026, 11, 25)


def test_the_days_record_says_the_strategy_had_nothing_to_trade_with(platform, brokers):
    strategy_id = platform.strategy("user-a", condor_body(), {})

    detail = platform.repository.get_strategy_with_allocations("user-a", strategy_id)
    record = platform.service.enter("user-a", strategy_id, TRADE_DATE)

    assert detail.cannot_enter == NO_ALLOCATION_REASON
    assert (record.status, record.reason) == (ExecutionStatus.NOT_ENTERED, NO_ALLOCATION_REASON)
    assert brokers.by_account == {}  # nothing reached any broker
