"""The API handlers' tracer and metrics: X-Ray only where tracing is on, and a request's metrics
published when it counted something, without a warning when it counted nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from shared_utils.api.resolver import RequestMetrics
from shared_utils.tracing import build_tracer, tracing_on

ROOT = Path(__file__).resolve().parents[3]
IN_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        (IN_LAMBDA, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({**IN_LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
        ({**IN_LAMBDA, "AWS_CHALICE_CLI_MODE": "true"}, False),
        ({}, False),
    ],
)
def test_tracing_is_on_only_in_lambda_unless_switched_off(environ: dict[str, str], on: bool) -> None:
    assert tracing_on(environ) is on


def test_a_tracer_with_tracing_off_records_nothing_and_passes_results_and_errors_through() -> None:
    tracer = build_tracer({})

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("fail"):
            raise ValueError("boom")
        return {"statusCode": 200}

    assert tracer.disabled
    assert handler({}, None) == {"statusCode": 200}
    with pytest.raises(ValueError, match="boom"):
        handler({"fail": True}, None)


def test_importing_an_api_handler_with_tracing_off_loads_neither_the_x_ray_sdk_nor_numpy() -> None:
    # A fresh interpreter: this test process has long imported both.
    code = (
        "import sys, lambda_functions.option_baskets.strategy_manager; "
        "print(sorted(m for m in ('aws_xray_sdk.core', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _published(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def test_a_request_that_counted_nothing_publishes_nothing_and_warns_of_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = RequestMetrics(namespace="ApiTest")

    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert handler({}, None) == {"statusCode": 200}
    assert _published(capsys) == []


def test_what_a_request_counted_is_published_once_even_when_the_handler_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = RequestMetrics(namespace="ApiTest")

    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="BrokerCredentialsUnavailable", unit=MetricUnit.Count, value=1)
        raise RuntimeError("broker down")

    with pytest.raises(RuntimeError):
        handler({}, None)
    [blob] = _published(capsys)
    assert blob["BrokerCredentialsUnavailable"] == [1.0]
    assert not metrics.metric_set


def test_options_keep_powertools_own_decorator(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = RequestMetrics(namespace="ApiTest")

    @metrics.log_metrics(raise_on_empty_metrics=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    with pytest.raises(Exception, match="at least one metric"):
        handler({}, None)
