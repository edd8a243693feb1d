"""No decision on a price the platform does not have: with no fresh quote an open position is not
judged (its stop-loss waits, a metric says so), the price-free square-off still goes, and the
rules apply again as soon as quotes return. Nothing is priced from a simulation in its place."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from shared_utils.execution.executor import UNPRICED_METRIC
from shared_utils.execution.runs import RunKind
from shared_utils.market.calendar import TradingCalendar
from tests.integration.execution.conftest import condor_body

TRADE_DATE = date(2026, 11, 25)


def open_legs(platform, user="user-a"):
    return [p for p in platform.store.positions(user) if p.net_quantity]


def test_a_stop_loss_waits_for_a_fresh_price_and_fires_when_it_returns(platform):
    sid = platform.strategy("user-a", condor_body(risk={"mtm_stop_loss": 2000}), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    check = platform.monitor()
    platform.clock.advance(timedelta(minutes=5))

    del platform.levels["NIFTY"]  # the quote feed stopped: nothing prices NIFTY now
    blind = check.check(platform.clock.now(), TRADE_DATE)

    assert blind.exits_requested == [] and blind.positions_unpriced == 4
    assert len(open_legs(platform)) == 4

    platform.levels["NIFTY"] = Decimal("26600")  # back, after a rally past the stop
    seen = check.check(platform.clock.now(), TRADE_DATE)

    assert seen.positions_unpriced == 0 and seen.exits_requested == [f"user-a/{sid}/STOP_LOSS"]
    assert open_legs(platform) == []


def test_the_square_off_needs_no_price_and_still_goes(platform):
    sid = platform.strategy("user-a", condor_body(exit=None), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    close = TradingCalendar.default().session(TRADE_DATE).close
    check = platform.monitor()
    del platform.levels["NIFTY"]

    report = check.monitor.check_all(close - timedelta(minutes=5), TRADE_DATE)

    assert report.positions_unpriced == 4 and report.exits_requested == [f"user-a/{sid}/SQUARE_OFF"]


def test_unpriced_positions_are_counted_in_the_alarmed_metric(platform):
    sid = platform.strategy("user-a", condor_body(risk={"mtm_stop_loss": 2000}), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    check = platform.monitor()
    metrics = Metrics(provider=AmazonCloudWatchEMFProvider(namespace="test"))  # as the executor handler
    executor = platform.checking_executor(check, metrics)
    del platform.levels["NIFTY"]

    check.monitor.check(platform.clock.now(), TRADE_DATE)
    assert {run.kind for run in platform.queue.sent} == {RunKind.CHECK}
    platform.queue.drain(executor)

    assert sum(metrics.provider.metric_set[UNPRICED_METRIC]["Value"]) == 4
    assert len(open_legs(platform)) == 4 and sid
