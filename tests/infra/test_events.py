"""Timer events: one rule per detail-type to its own function; failures land in a DLQ, never lost.
(Each DLQ's alarm: test_monitoring.py::test_every_dead_letter_queue_alarms_on_its_first_message.)"""

from __future__ import annotations

import pytest

from cdk_stack.brokers import manages_broker_sessions
from cdk_stack.events import event_bus_name
from lambda_functions.option_baskets import BACKTEST_RUNNER
from shared_utils.backtest.job_models import START_WITHIN
from shared_utils.events.catalog import HANDLER_MODULES, DetailType, rule_pattern
from tests.infra.conftest import Synthesized
from tests.infra.helpers import function_by_module, ref_target

pytestmark = pytest.mark.infra


def test_each_detail_type_is_routed_to_exactly_one_function(standalone: Synthesized) -> None:
    rules = standalone.of_type("AWS::Events::Rule")
    (bus_id,) = standalone.of_type("AWS::Events::EventBus")
    assert standalone.resources[bus_id]["Properties"]["Name"] == event_bus_name(standalone.config)
    targeted: set[str] = set()
    for detail_type in DetailType:
        matching = [
            rule
            for rule in rules.values()
            if rule["Properties"].get("EventPattern") == rule_pattern(detail_type)
        ]
        assert len(matching) == 1, detail_type
        properties = matching[0]["Properties"]
        assert ref_target(properties["EventBusName"]) == bus_id
        (target,) = properties["Targets"]
        function_id = ref_target(target["Arn"])
        assert function_id == function_by_module(standalone, HANDLER_MODULES[detail_type])
        targeted.add(function_id)
    assert len(targeted) == len(DetailType)
    assert len(rules) == len(DetailType)


def test_every_async_target_has_a_dlq_and_a_maximum_event_age(synthesized: Synthesized) -> None:
    queues = synthesized.of_type("AWS::SQS::Queue")
    rules = synthesized.of_type("AWS::Events::Rule")
    for rule in rules.values():
        for target in rule["Properties"]["Targets"]:
            assert ref_target(target["DeadLetterConfig"]["Arn"]) in queues
            assert 60 <= target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 300
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    schedules = synthesized.of_type("AWS::Scheduler::Schedule").values()
    # The day's start, and the sessions' logout after the close where this stack keeps them.
    assert len(schedules) == (2 if manages_broker_sessions(synthesized.config) else 1)
    for schedule in schedules:
        target = schedule["Properties"]["Target"]
        assert ref_target(target["DeadLetterConfig"]["Arn"]) in queues
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600

    # The functions EventBridge and the scheduler invoke asynchronously also keep their failures,
    # and so does the backtest job function the API invokes (its jobs may wait up to an hour).
    async_functions = {
        function_by_module(synthesized, m) for m in [*HANDLER_MODULES.values(), "timer_starter"]
    }
    backtests = function_by_module(synthesized, BACKTEST_RUNNER)
    configs = {
        config["Properties"]["FunctionName"]["Ref"]: config["Properties"]
        for config in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(configs) == async_functions | {backtests}
    for function_id, config in configs.items():
        assert ref_target(config["DestinationConfig"]["OnFailure"]["Destination"]) in queues
        limit = START_WITHIN.total_seconds() if function_id == backtests else 300
        assert config["MaximumEventAgeInSeconds"] <= limit


def test_dead_letter_queues_are_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    queues = synthesized.of_type("AWS::SQS::Queue")
    # + the starter's, the run queue and its DLQ, the live feed's stream failures, the backtest
    # job function's, the notification queue and its DLQ
    assert len(queues) == len(DetailType) + 7
    policies = synthesized.of_type("AWS::SQS::QueuePolicy").values()
    for queue_id, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        statements = [
            statement
            for policy in policies
            if any(ref_target(q) == queue_id for q in policy["Properties"]["Queues"])
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        ), queue_id
