"""The executor Lambda publishes what the process-wide services counted during its invocation
(the broker credentials provider's `BrokerCredentialsUnavailable`), not only its own set."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambda_functions.option_baskets import strategy_executor
from local_platform.run_queue import sqs_record
from local_platform.wsgi import LocalContext
from shared_utils import keys
from shared_utils.brokers.credentials import CREDENTIALS_UNAVAILABLE_METRIC
from shared_utils.execution.runs import RunKind, StrategyRun


def emitted(printed: str) -> dict[str, float]:
    """Every metric value in the EMF lines a handler printed."""
    found: dict[str, float] = {}
    for line in printed.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                found[metric["Name"]] = found.get(metric["Name"], 0) + sum(
                    value if isinstance(value, list) else [value]
                )
    return found


def test_a_credentials_failure_counted_during_a_run_is_published_with_it(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    now = aws["clock"].now()
    run = StrategyRun(
        kind=RunKind.CHECK,
        partition=keys.open_positions_partitions()[0],
        trade_date=now.date(),
        scheduled_at=now,
    )
    # What `SecretsManagerCredentialsProvider` does when an account's secret is unreadable: the
    # registry it belongs to lives for the process, so it counts in the process-wide set.
    Metrics().add_metric(name=CREDENTIALS_UNAVAILABLE_METRIC, unit=MetricUnit.Count, value=1)

    strategy_executor.handler(
        {"Records": [sqs_record("m-1", run.model_dump_json(), 1)]},
        LocalContext(function_name="strategy-executor"),
    )

    figures = emitted(capsys.readouterr().out)
    assert figures[CREDENTIALS_UNAVAILABLE_METRIC] == 1 and figures["StrategyRunsExecuted"] == 1
    assert not Metrics().metric_set  # flushed: the next invocation does not publish it again
