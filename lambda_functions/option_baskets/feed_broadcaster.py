"""The live feed's broadcaster: the history and broker-accounts tables' streams become order,
position, execution, risk-exit, kill-switch, broker-view and account messages; QuotesRefreshed
(after the minute's quotes are stored) becomes each connected user's marks."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform
from shared_utils.events.catalog import DetailType
from shared_utils.feed.broadcaster import BroadcastReport
from shared_utils.handlers.timer import build_timer_handler, logger, metrics
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.tracing import tracer


def _marks(envelope: TimerEnvelope) -> BroadcastReport:
    return platform().feed_marks()


_on_quotes = build_timer_handler(DetailType.QUOTES_REFRESHED, _marks, ("FeedMessagesSent", "sent"))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def _on_records(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = platform().feed_changes(event["Records"])
    metrics.add_metric(name="FeedMessagesSent", unit=MetricUnit.Count, value=report.sent)
    metrics.add_metric(name="FeedSendFailures", unit=MetricUnit.Count, value=report.failed)
    metrics.add_metric(name="FeedConnectionsGone", unit=MetricUnit.Count, value=report.gone)
    logger.info("Feed records broadcast", extra=report.model_dump())
    # Nothing is retried: a message is a snapshot, and the next change sends the next one.
    return {"batchItemFailures": []}


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return _on_records(event, context)
    return _on_quotes(event, context)
