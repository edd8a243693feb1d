"""Daily schedule target: start the trade date's master-timer execution (a repeat is harmless)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform
from shared_utils.errors import ConfigurationError
from shared_utils.timer.starter import start_daily_timer

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    root = platform()
    arn = root.settings.timer_state_machine_arn
    if not arn:
        raise ConfigurationError("TIMER_STATE_MACHINE_ARN is not set")
    outcome = start_daily_timer(root.stepfunctions, arn, root.clock, root.market_view())
    metrics.add_metric(name="TimerStarts", unit=MetricUnit.Count, value=1 if outcome.started else 0)
    return outcome.model_dump(mode="json")
