"""Strategy runs: the queue, its DLQ with an alarm, the executor's event source mapping, and timer
handlers that only queue (no broker access, no order written)."""

from __future__ import annotations

import pytest

from cdk_stack.execution import MAX_RECEIVES
from shared_utils.execution.executor import LATE_ENTRY_METRIC, UNPRICED_METRIC
from tests.infra.conftest import Synthesized
from tests.infra.helpers import (
    as_list,
    function_by_module,
    platform_mappings,
    policy_statements_of_role,
    ref_target,
    statement_targets,
)

pytestmark = pytest.mark.infra


def _run_queue(synth: Synthesized) -> tuple[str, dict]:
    executor = function_by_module(synth, "strategy_executor")
    (mapping,) = [
        m
        for m in platform_mappings(synth, "AWS::SQS::Queue").values()
        if ref_target(m["Properties"]["FunctionName"]) == executor
    ]
    queue_id = ref_target(mapping["Properties"]["EventSourceArn"])
    assert queue_id is not None
    return queue_id, mapping["Properties"]


def _sqs_actions(synth: Synthesized, module: str, queue_id: str) -> set[str]:
    role = ref_target(synth.resources[function_by_module(synth, module)]["Properties"]["Role"]) or ""
    return {
        action
        for statement in policy_statements_of_role(synth, role)
        if queue_id in statement_targets(statement)
        for action in as_list(statement["Action"])
    }


def test_the_executor_consumes_the_run_queue_with_partial_batches_and_a_dead_letter_queue(
    synthesized: Synthesized,
) -> None:
    queue_id, mapping = _run_queue(synthesized)
    executor = function_by_module(synthesized, "strategy_executor")
    assert ref_target(mapping["FunctionName"]) == executor
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    config = synthesized.config.strategy_runs
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == config.max_concurrency
    assert mapping["BatchSize"] == config.batch_size

    queue = synthesized.resources[queue_id]["Properties"]
    timeout = synthesized.resources[executor]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout  # never handed to a second executor mid-run
    assert queue["SqsManagedSseEnabled"] is True
    dlq_id = ref_target(queue["RedrivePolicy"]["deadLetterTargetArn"])
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES
    alarms = [
        alarm["Properties"]
        for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if any(ref_target(d.get("Value")) == dlq_id for d in alarm["Properties"].get("Dimensions", []))
    ]
    assert len(alarms) == 1 and alarms[0]["Threshold"] == 0 and alarms[0]["AlarmActions"]
    # The URL every function's settings carry is this queue's.
    variables = synthesized.resources[executor]["Properties"]["Environment"]["Variables"]
    assert ref_target(variables["STRATEGY_RUN_QUEUE_URL"]) == queue_id


def test_timer_handlers_and_the_kill_switch_only_queue_runs(synthesized: Synthesized) -> None:
    queue_id, _mapping = _run_queue(synthesized)
    for module in ("schedule_trigger", "stop_loss_checker", "kill_switch", "strategy_executor"):
        assert "sqs:SendMessage" in _sqs_actions(synthesized, module, queue_id), module
    for module in ("schedule_trigger", "stop_loss_checker", "kill_switch"):
        function = synthesized.resources[function_by_module(synthesized, module)]["Properties"]
        # No broker credentials and no egress VPC: these functions cannot reach a broker.
        assert function["Environment"]["Variables"].get("BROKER_SECRET_PREFIX", "") == "", module
        assert "VpcConfig" not in function, module
        assert not {a for a in _sqs_actions(synthesized, module, queue_id) if "ReceiveMessage" in a}, module


@pytest.mark.parametrize("metric", [LATE_ENTRY_METRIC, UNPRICED_METRIC])
def test_an_entry_refused_as_too_late_and_positions_left_unpriced_alarm(
    synthesized: Synthesized, metric: str
) -> None:
    (alarm,) = [
        a["Properties"]
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric
    ]
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]
