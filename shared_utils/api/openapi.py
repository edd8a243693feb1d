"""The API contract: one resolver with every router, its OpenAPI document, and Swagger UI.

`python -m shared_utils.api.openapi` rewrites `docs/openapi.json`; a test fails when the file
and the code drift apart.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, SecurityScheme, Server

from shared_utils.api.resolver import build_resolver

TITLE = "Options Strategy Platform API"
API_VERSION = "1.0.0"
DESCRIPTION = (
    "Baskets of multi-leg index-options strategies, their broker allocations and templates. "
    "Every route needs a Cognito user-pool token in `Authorization`; the caller is the token's "
    "`sub`. Errors are `{code, message, details[{field, issue}]}`."
)
DOCS_PATH = "/docs"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "cognito": APIKey(
        name="Authorization",
        in_=APIKeyIn.header,
        description="Cognito user-pool ID token (API Gateway Cognito authorizer)",
    )
}
SECURITY: list[dict[str, list[str]]] = [{"cognito": []}]


def all_routers() -> tuple[Router, ...]:
    from shared_utils.api.routers import (
        allocations,
        backtests,
        baskets,
        broker_accounts,
        executions,
        kill_switch,
        market_calendar,
        marketplace,
        notification_settings,
        risk_settings,
        strategies,
        strategy_preview,
        subscriptions,
        templates,
        webhooks,
    )

    return (
        broker_accounts.router,
        templates.router,
        baskets.router,
        risk_settings.router,
        notification_settings.router,
        strategies.router,
        strategy_preview.router,
        allocations.router,
        executions.router,
        kill_switch.router,
        marketplace.router,
        subscriptions.router,
        market_calendar.router,
        backtests.router,
        webhooks.router,
    )


def build_api(*, swagger: bool = False) -> APIGatewayRestResolver:
    """Every route of the catalog in one resolver (contract, docs and the local platform)."""
    app = build_resolver(*all_routers(), public_paths=frozenset({DOCS_PATH}) if swagger else frozenset())
    if swagger:
        app.enable_swagger(
            path=DOCS_PATH,
            title=TITLE,
            version=API_VERSION,
            description=DESCRIPTION,
            security_schemes=SECURITY_SCHEMES,
            security=SECURITY,
        )
    return app


def docs_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Serves Swagger UI at `/docs` (and the document at `/docs?format=json`) for local mode."""
    app = build_api(swagger=True)
    return app.resolve


def openapi_document() -> dict[str, Any]:
    schema = build_api().get_openapi_json_schema(
        title=TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        servers=[Server(url="/", description="API Gateway stage or the local platform")],
        security_schemes=SECURITY_SCHEMES,
        security=SECURITY,
    )
    document: dict[str, Any] = json.loads(schema)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                if response.get("content") == {}:
                    del response["content"]  # 204: no body
    return document


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render())
    sys.stdout.write(f"wrote {output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
