"""Public endpoint: POST /signals/{token}, a chart alert on a user's signal webhook (no Cognito)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.api.resolver import logger, metrics, validate_environment
from shared_utils.api.signal_endpoint import app
from shared_utils.tracing import tracer


@validate_environment
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
