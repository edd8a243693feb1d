"""schemathesis against docs/openapi.json, through the WSGI adapter of the real handlers.

Bounded: a handful of examples per operation (CI-sized). Zero server errors and zero
responses outside the published schema (status, content type, body).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from local_platform.wsgi import ProxyEventWsgiApp, fixed_claims
from shared_utils.api.openapi import DEFAULT_OUTPUT
from tests.integration.api.conftest import strategy_body

CONTRACT_USER = "contract-user"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def contract(aws: dict[str, Any], seed_broker_account: Any) -> Any:
    seed_broker_account(CONTRACT_USER, "acct-zerodha", "ZERODHA")
    seed_broker_account(CONTRACT_USER, "acct-upstox", "UPSTOX", api_secret="never-returned")
    schema = schemathesis.openapi.from_path(str(DEFAULT_OUTPUT))
    schema.app = ProxyEventWsgiApp(claims=fixed_claims(CONTRACT_USER))
    return schema


contract_schema = schemathesis.pytest.from_fixture("contract")
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


@pytest.fixture
def existing(contract: Any) -> dict[str, str]:
    """Real ids of the contract user's items, so generated requests also reach the happy paths."""
    client = Client(contract.app)
    basket = client.post("/options/baskets", json={"name": "Contract basket"}).json["basket_id"]
    strategy = client.post(f"/options/baskets/{basket}/strategies", json=strategy_body()).json["strategy_id"]
    account = {"broker_account_id": "acct-zerodha", "lots": 1}
    own = client.post(f"/options/strategies/{strategy}/brokers", json=account).json["allocation_id"]
    default = client.post(f"/options/baskets/{basket}/brokers", json=account).json["allocation_id"]
    hook = {"strategy_id": strategy, "action": "EXIT", "format": "TRADINGVIEW"}
    webhook = client.post("/options/webhooks", json=hook).json["webhook_id"]
    return {
        "basket_id": basket,
        "strategy_id": strategy,
        "strategy_allocation": own,
        "basket_allocation": default,
        "webhook_id": webhook,
    }


@contract_schema.parametrize()
@SETTINGS
def test_every_operation_honours_the_published_contract(case: Any) -> None:
    response = case.call_and_validate(checks=CHECKS)
    assert "never-returned" not in response.text
    assert "Traceback" not in response.text


@contract_schema.parametrize()
@SETTINGS
def test_operations_on_existing_items_honour_the_published_contract(
    case: Any, existing: dict[str, str]
) -> None:
    # Deletes keep their generated ids: deleting the shared items would turn every later case into a 404.
    if case.path_parameters and case.method.upper() != "DELETE":
        scope = "basket_allocation" if case.path.startswith("/options/baskets") else "strategy_allocation"
        ids = {
            "basket_id": existing["basket_id"],
            "strategy_id": existing["strategy_id"],
            "allocation_id": existing[scope],
            "broker_account_id": "acct-zerodha",
            "exchange": "NSE",
            "day": "2030-01-15",
            "backtest_id": "bt-20261125040000000000-0a1b2c3d",
            "webhook_id": existing["webhook_id"],
        }
        case.path_parameters = {name: ids[name] for name in case.path_parameters}
    response = case.call_and_validate(checks=CHECKS)
    assert "never-returned" not in response.text
