"""CheckDuplicateOrders handler: flag duplicate orders of the lookback window once per tick."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shared_utils.events.catalog import DetailType
from shared_utils.timer import wiring
from shared_utils.timer.checks import check_duplicate_orders
from shared_utils.timer.consumer import HandlerOutcome, accept, once_per_tick
from shared_utils.timer.envelope import TimerEnvelope

logger = Logger()
metrics = Metrics()
tracer = Tracer()

DETAIL_TYPE = DetailType.CHECK_DUPLICATE_ORDERS


def _work(envelope: TimerEnvelope) -> BaseModel:
    return check_duplicate_orders(envelope, wiring.duplicate_order_scanner())


@logger.inject_lambda_context(correlation_id_path="detail.tick")
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = accept(event, DETAIL_TYPE)
    if isinstance(parsed, HandlerOutcome):
        metrics.add_metric(name="RejectedTimerEvents", unit=MetricUnit.Count, value=1)
        return parsed.model_dump(mode="json")
    outcome = once_per_tick(DETAIL_TYPE, parsed.detail, _work, wiring.idempotency_store(), context)
    metrics.add_metric(name="TimerEventsHandled", unit=MetricUnit.Count, value=1)
    found = len(outcome.result.get("findings", []))
    metrics.add_metric(name="DuplicateOrdersFound", unit=MetricUnit.Count, value=found)
    return outcome.model_dump(mode="json")
