"""One recipe for the four timer-event handlers, so their parsing, once-per-tick guard, logging
and metrics cannot drift apart: each handler module only names its detail-type and its work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shared_utils.composition import platform
from shared_utils.events.catalog import DetailType
from shared_utils.timer.consumer import HandlerOutcome, accept, on_time, once_per_tick
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.tracing import tracer

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# One Lambda function serves one detail-type, so one set of Powertools objects per process suffices.
logger = Logger()
metrics = Metrics()


def build_timer_handler(
    detail_type: DetailType,
    work: Callable[[TimerEnvelope], BaseModel],
    counted: tuple[str, str] | None = None,
) -> LambdaHandler:
    """The Lambda entry point for `detail_type`.

    `counted` is `(metric name, result field)`: that count in the work's result (or the length
    of that list) is published as a count metric (executions requested, duplicates found ...).
    """

    @logger.inject_lambda_context(correlation_id_path="detail.tick")
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        root = platform()
        parsed = accept(event, detail_type)
        if isinstance(parsed, HandlerOutcome):
            metrics.add_metric(name="RejectedTimerEvents", unit=MetricUnit.Count, value=1)
            return parsed.model_dump(mode="json")
        max_lag = timedelta(seconds=root.settings.timer_event_max_lag_seconds)
        envelope = on_time(parsed.detail, detail_type, root.clock.now(), max_lag)
        if isinstance(envelope, HandlerOutcome):
            metrics.add_metric(name="StaleTimerEvents", unit=MetricUnit.Count, value=1)
            return envelope.model_dump(mode="json")
        outcome = once_per_tick(detail_type, envelope, work, root.idempotency_store, context)
        metrics.add_metric(name="TimerEventsHandled", unit=MetricUnit.Count, value=1)
        if counted is not None:
            name, field = counted
            value = outcome.result.get(field, [])
            count = value if isinstance(value, int) else len(value)
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
        return outcome.model_dump(mode="json")

    return handler
