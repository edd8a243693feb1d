"""ScheduleStrategyTrigger handler: hand every strategy due in the lookahead to execution, once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shared_utils.events.catalog import DetailType
from shared_utils.timer import wiring
from shared_utils.timer.consumer import HandlerOutcome, accept, once_per_tick
from shared_utils.timer.envelope import TimerEnvelope

logger = Logger()
metrics = Metrics()
tracer = Tracer()

DETAIL_TYPE = DetailType.SCHEDULE_STRATEGY_TRIGGER


def _work(envelope: TimerEnvelope) -> BaseModel:
    return wiring.trigger(envelope)


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
    requested = len(outcome.result.get("requested", []))
    metrics.add_metric(name="ExecutionsRequested", unit=MetricUnit.Count, value=requested)
    return outcome.model_dump(mode="json")
