"""API: strategies (list, create in a basket, get, update, delete), the preview of a draft, and
the signal webhooks bound to strategies (create, list, rotate, delete, their signals)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.api.resolver import build_resolver, logger, metrics, validate_environment
from shared_utils.api.routers import strategies, strategy_preview, webhooks
from shared_utils.tracing import tracer

app = build_resolver(strategies.router, strategy_preview.router, webhooks.router)


@validate_environment
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
