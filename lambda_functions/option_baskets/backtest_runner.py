"""BacktestRunner: runs one backtest job, invoked asynchronously by the API with the job's
reference (`{"user_id", "backtest_id"}`): RUNNING, the backtester, `result.json` and
`report.html` to the results bucket, then DONE with the summary or FAILED with the error.
A redelivered event finds the job taken and does nothing. An unexpected error fails the job,
then the invocation (the function's errors alarm); Lambda does not retry it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.api.resolver import validate_environment
from shared_utils.backtest.job_models import JobRef
from shared_utils.composition import platform
from shared_utils.tracing import tracer

logger = Logger()
metrics = Metrics()


@validate_environment
@logger.inject_lambda_context(log_event=True, correlation_id_path="backtest_id")
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        outcome = platform().backtest_jobs.run(JobRef.model_validate(event))
    except Exception:
        metrics.add_metric(name="BacktestsFailed", unit=MetricUnit.Count, value=1)
        raise
    counted = f"Backtests{outcome.status.title()}" if outcome.status is not None else "BacktestsSkipped"
    metrics.add_metric(name=counted, unit=MetricUnit.Count, value=1)
    return outcome.model_dump(mode="json")
