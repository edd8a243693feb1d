"""moto with Step Functions executing state machines, and moto's Lambda invoke routed to the
real handlers in process (raised errors come back as function errors, as Lambda reports them)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn

from shared_utils.settings import RuntimeSettings, load_settings
from shared_utils.tables import ALL_TABLES
from tests.conftest import TEST_PREFIX, TEST_REGION, install_platform

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FakeLambdaContext:
    function_name: str = "event_emitter"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{TEST_REGION}:123456789012:function:event_emitter"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/event_emitter"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def utc_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto compares Wait timestamps with the local naive time: run those tests in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def sfn_aws(
    test_settings: RuntimeSettings, platform_clock: Any, monkeypatch: pytest.MonkeyPatch, utc_process: None
) -> Iterator[dict[str, Any]]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        dynamodb = boto3.client("dynamodb", region_name=TEST_REGION)
        for definition in ALL_TABLES:
            dynamodb.create_table(**definition.create_table_kwargs(definition.name(TEST_PREFIX)))
        boto3.client("events", region_name=TEST_REGION).create_event_bus(Name=test_settings.event_bus_name)
        for key, value in test_settings.as_environment().items():
            monkeypatch.setenv(key, value)
        load_settings.cache_clear()
        root = install_platform(test_settings, platform_clock, dynamodb)
        yield {"dynamodb": dynamodb, "settings": test_settings, "clock": platform_clock, "platform": root}


@pytest.fixture
def lambda_router(monkeypatch: pytest.MonkeyPatch) -> dict[str, Handler]:
    """FunctionName (ARN) -> in-process handler; fill it in the test."""
    routes: dict[str, Handler] = {}

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        handler = routes[parameters["FunctionName"]]
        payload = parameters.get("Payload") or b"{}"
        event = json.loads(payload.decode() if isinstance(payload, bytes) else payload)
        try:
            result = handler(event, FakeLambdaContext())
        except Exception as error:  # Lambda reports an unhandled error as a function error
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": {"errorType": type(error).__name__, "errorMessage": str(error)},
            }
        return {"StatusCode": 200, "Payload": result}

    monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", invoke)
    # Retry intervals are honoured with real sleeps; make them instant.
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda _seconds: None))
    # moto 5.2.5 hands the `states:startExecution` parameters to boto3 as written in the ASL
    # (`StateMachineArn`, `Name`, `Input`); the service (and boto3) name them `stateMachineArn`,
    # `name`, `input`. Rename them as Step Functions does, or moto fails every such task.
    original = state_task_service_sfn.StateTaskServiceSfn._normalise_parameters

    def normalise(self: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(self, parameters, *args, **kwargs)
        for key in list(parameters):
            parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    monkeypatch.setattr(state_task_service_sfn.StateTaskServiceSfn, "_normalise_parameters", normalise)
    return routes
