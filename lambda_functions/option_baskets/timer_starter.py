"""Daily schedule target: start the trade date's master-timer execution (a repeat is harmless),
then take in the day's instrument master and each broker's symbol book, and log the broker
accounts in; invoked after the close with `{"action": "end_of_day"}`, log every session out."""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import Platform, platform
from shared_utils.errors import ConfigurationError, DomainError
from shared_utils.timer.listing import LISTING_DISAGREEMENT_METRIC, LISTING_REJECTED_METRIC
from shared_utils.timer.sessions import (
    END_OF_DAY_ACTION,
    LOGIN_FAILED_METRIC,
    LOGINS_NEEDED_METRIC,
    LOGOUT_FAILED_METRIC,
)
from shared_utils.timer.starter import start_daily_timer
from shared_utils.timer.symbol_books import SYMBOL_BOOK_REJECTED_METRIC
from shared_utils.tracing import tracer

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    root = platform()
    if event.get("action") == END_OF_DAY_ACTION:
        return _log_out_accounts(root)
    arn = root.settings.timer_state_machine_arn
    if not arn:
        raise ConfigurationError("TIMER_STATE_MACHINE_ARN is not set")
    outcome = start_daily_timer(root.stepfunctions, arn, root.clock, root.market_view())
    metrics.add_metric(name="TimerStarts", unit=MetricUnit.Count, value=1 if outcome.started else 0)
    if outcome.session_ahead:
        _refresh_listing(root, outcome.trade_date)
        _refresh_symbol_books(root, outcome.trade_date)
        if root.settings.manage_broker_sessions:
            _log_in_accounts(root)
    return outcome.model_dump(mode="json")


def _refresh_listing(root: Platform, trade_date: date) -> None:
    """The day's instrument master, after the timer is started: a failed or rejected download
    never stops the day (yesterday's listing and the rules stay), it raises the alarm."""
    try:
        report = root.refresh_listing(trade_date)
    except DomainError as error:
        logger.error("Instrument master download failed", extra={"error": error.message})
        metrics.add_metric(name=LISTING_REJECTED_METRIC, unit=MetricUnit.Count, value=1)
        return
    if report is None:
        return
    logger.info("Instrument master", extra=report.model_dump(mode="json"))
    metrics.add_metric(name=LISTING_REJECTED_METRIC, unit=MetricUnit.Count, value=0 if report.accepted else 1)
    metrics.add_metric(
        name=LISTING_DISAGREEMENT_METRIC, unit=MetricUnit.Count, value=len(report.disagreements)
    )


def _refresh_symbol_books(root: Platform, trade_date: date) -> None:
    """Each broker's master as its symbol book; a broker whose download fails keeps yesterday's
    book (its orders for a contract that book does not list are refused unsent) and is counted."""
    try:
        reports = root.refresh_symbol_books(trade_date)
    except DomainError as error:
        logger.error("Symbol books not refreshed", extra={"error": error.message})
        metrics.add_metric(name=SYMBOL_BOOK_REJECTED_METRIC, unit=MetricUnit.Count, value=1)
        return
    for report in reports:
        logger.info("Symbol book", extra=report.model_dump(mode="json"))
    rejected = sum(1 for report in reports if not report.accepted)
    metrics.add_metric(name=SYMBOL_BOOK_REJECTED_METRIC, unit=MetricUnit.Count, value=rejected)


def _log_in_accounts(root: Platform) -> None:
    """Before the first entry: self-login accounts log in; the rest keep a live session or are
    marked NEEDS_LOGIN (their orders are then refused, never sent on a dead token)."""
    report = root.account_linking.morning()
    logger.info("Broker logins", extra=report.model_dump(mode="json"))
    metrics.add_metric(name=LOGINS_NEEDED_METRIC, unit=MetricUnit.Count, value=report.needs_login)
    metrics.add_metric(name=LOGIN_FAILED_METRIC, unit=MetricUnit.Count, value=len(report.failed))


def _log_out_accounts(root: Platform) -> dict[str, Any]:
    report = root.account_linking.evening()
    logger.info("Broker logouts", extra=report.model_dump(mode="json"))
    metrics.add_metric(name=LOGOUT_FAILED_METRIC, unit=MetricUnit.Count, value=len(report.failed))
    return report.model_dump(mode="json")
