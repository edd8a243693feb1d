"""Master-timer Emit task: handle one tick, publish its events, return the next state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform
from shared_utils.timer.emitter import (
    CALENDAR_DAYS_LEFT_METRIC,
    TIMER_EVENTS_EMITTED_METRIC,
    TIMER_MINUTES_SKIPPED_METRIC,
    TimerState,
    emit_tick,
)
from shared_utils.tracing import tracer

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="next_tick || tick")
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse(event=event, model=TimerState)
    root = platform()
    result = emit_tick(state, root.market_view(), root.publisher(), root.clock)
    if result.confirmed_days_left is not None:
        metrics.add_metric(
            name=CALENDAR_DAYS_LEFT_METRIC, unit=MetricUnit.Count, value=result.confirmed_days_left
        )
    metrics.add_metric(name=TIMER_EVENTS_EMITTED_METRIC, unit=MetricUnit.Count, value=len(result.emitted))
    metrics.add_metric(name=TIMER_MINUTES_SKIPPED_METRIC, unit=MetricUnit.Count, value=result.skipped_minutes)
    return result.to_state()
