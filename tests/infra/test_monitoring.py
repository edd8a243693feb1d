"""Operator alarms: each one notifies the encrypted operator topic, which mails the configured
addresses; the calendar's coverage, the timer's failures and skipped minutes, every function's
errors and throttles, every table's throttling, the run queue's backlog and every dead-letter
queue have theirs; one dashboard draws them. Each test runs on every environment's template."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cdk_stack.functions import METRICS_NAMESPACE, SERVICE_NAME
from shared_utils.settings import RuntimeSettings
from shared_utils.tables import resource_prefix
from shared_utils.timer.emitter import (
    CALENDAR_DAYS_LEFT_ALARM,
    CALENDAR_DAYS_LEFT_METRIC,
    TIMER_EVENTS_EMITTED_METRIC,
    TIMER_MINUTES_SKIPPED_METRIC,
)
from tests.infra.conftest import Synthesized
from tests.infra.helpers import function_by_module, platform_functions, platform_mappings, ref_target

pytestmark = pytest.mark.infra

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL = REPO_ROOT / "step_functions" / "master_timer.asl.json"


def _alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {key: alarm["Properties"] for key, alarm in synth.of_type("AWS::CloudWatch::Alarm").items()}


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    (value,) = [d["Value"] for d in alarm.get("Dimensions", []) if d["Name"] == name]
    return value


def _on_metric(synth: Synthesized, metric_name: str) -> list[dict[str, Any]]:
    return [alarm for alarm in _alarms(synth).values() if alarm.get("MetricName") == metric_name]


def test_every_alarm_notifies_the_encrypted_operator_topic(synthesized: Synthesized) -> None:
    (topic_id,) = synthesized.of_type("AWS::SNS::Topic")
    topic = synthesized.resources[topic_id]["Properties"]
    assert ref_target(topic["KmsMasterKeyId"]) in synthesized.of_type("AWS::KMS::Key")
    assert ref_target(synthesized.template["Outputs"]["OperatorAlarmTopicArn"]["Value"]) == topic_id
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 3 + 5  # the timer's three and one per dead-letter queue
    for alarm_id, alarm in alarms.items():
        assert [ref_target(action) for action in alarm["Properties"]["AlarmActions"]] == [topic_id], alarm_id


def test_the_calendar_coverage_alarm_fires_below_thirty_confirmed_days(synthesized: Synthesized) -> None:
    (coverage,) = [
        alarm["Properties"]
        for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == CALENDAR_DAYS_LEFT_METRIC
    ]
    assert coverage["Namespace"] == METRICS_NAMESPACE
    assert coverage["Threshold"] == CALENDAR_DAYS_LEFT_ALARM == 30
    assert coverage["ComparisonOperator"] == "LessThanThreshold"
    assert coverage["Statistic"] == "Minimum"
    assert coverage["TreatMissingData"] == "ignore"  # no session, no datapoint: the state holds


def test_a_failed_timer_execution_alarms(synthesized: Synthesized) -> None:
    (machine_id,) = synthesized.of_type("AWS::StepFunctions::StateMachine")
    failed = [
        alarm["Properties"]
        for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ExecutionsFailed"
    ]
    assert [ref_target(a["Dimensions"][0]["Value"]) for a in failed] == [machine_id]


def test_an_unreadable_calendar_fails_the_execution_instead_of_skipping_ticks() -> None:
    states = json.loads(ASL.read_text())["States"]
    for task in ("Emit", "Recover"):
        first_catch = states[task]["Catch"][0]
        assert first_catch["ErrorEquals"] == ["CalendarUnavailableError"], task
        assert states[first_catch["Next"]]["Type"] == "Fail"


def test_alarm_mail_goes_to_the_configured_addresses(synthesized: Synthesized) -> None:
    """Every fixture deploys with addresses given as context (dev's through the CLI's -c); beside
    them, the notifier's one subscription (admins' platform alarms, tests/infra/test_notifications)."""
    (topic_id,) = synthesized.of_type("AWS::SNS::Topic")
    subscriptions = [s["Properties"] for s in synthesized.of_type("AWS::SNS::Subscription").values()]
    emails = [s for s in subscriptions if s["Protocol"] == "email"]
    assert synthesized.config.alarm_emails
    assert sorted(s["Endpoint"] for s in emails) == sorted(synthesized.config.alarm_emails)
    assert sorted(s["Protocol"] for s in subscriptions if s not in emails) == ["lambda"]
    for subscription in subscriptions:
        assert ref_target(subscription["TopicArn"]) == topic_id


def test_every_function_has_one_errors_and_one_throttles_alarm(synthesized: Synthesized) -> None:
    """Every platform function; CDK's bucket-deployment handler runs at deploy time only (a
    failure there fails the deploy, which the deployer sees)."""
    functions = set(platform_functions(synthesized))
    assert len(functions) >= 15
    for metric_name in ("Errors", "Throttles"):
        alarms = _on_metric(synthesized, metric_name)
        assert {alarm["Namespace"] for alarm in alarms} == {"AWS/Lambda"}
        watched = Counter(ref_target(_dimension(alarm, "FunctionName")) for alarm in alarms)
        assert watched == dict.fromkeys(functions, 1), metric_name
        for alarm in alarms:
            assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert alarm["TreatMissingData"] == "notBreaching"
    # The starter's errors alarm is the timer's start alarm, under its own name.
    starter = function_by_module(synthesized, "timer_starter")
    (start,) = [
        a for a in _on_metric(synthesized, "Errors") if ref_target(a["Dimensions"][0]["Value"]) == starter
    ]
    assert start["AlarmName"] == f"{resource_prefix(synthesized.config.name)}-master-timer-start-failed"


def _table_of(synth: Synthesized, value: Any) -> str:
    """A table reference in a metric: an owned table's logical id, or the imported export."""
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        return f"import:{value['Fn::ImportValue']}"
    target = ref_target(value)
    assert target in synth.of_type("AWS::DynamoDB::Table"), value
    return target


def test_every_table_and_its_indexes_have_one_throttle_alarm(synthesized: Synthesized) -> None:
    tables = synthesized.of_type("AWS::DynamoDB::Table")
    expected = {
        table_id: {None, *(i["IndexName"] for i in table["Properties"].get("GlobalSecondaryIndexes", []))}
        for table_id, table in tables.items()
    }
    if synthesized.config.auth_stack_exports is not None:  # the imported broker-accounts table
        expected[f"import:{synthesized.config.auth_stack_exports.broker_accounts_table}"] = {None}
    watched: dict[str, set[str | None]] = {}
    for alarm in _alarms(synthesized).values():
        queries = alarm.get("Metrics", [])
        stats = [
            q["MetricStat"]
            for q in queries
            if q.get("MetricStat", {}).get("Metric", {}).get("Namespace") == "AWS/DynamoDB"
        ]
        if not stats:
            continue
        scopes: dict[str, set[tuple[str, str | None]]] = {}
        for stat in stats:
            dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
            table = _table_of(synthesized, dimensions["TableName"])
            scopes.setdefault(table, set()).add(
                (stat["Metric"]["MetricName"], dimensions.get("GlobalSecondaryIndexName"))
            )
        ((table, seen),) = scopes.items()  # one table per alarm
        assert table not in watched, f"{table} has two throttle alarms"
        indexes = {index for _, index in seen}
        assert seen == {(f"{kind}ThrottleEvents", i) for kind in ("Read", "Write") for i in indexes}
        (expression,) = [q["Expression"] for q in queries if q.get("ReturnData", True) and "Expression" in q]
        assert expression.count("FILL(") == len(stats)  # every read and write counted
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        watched[table] = indexes
    assert watched == expected


def _run_queue_mapping(synth: Synthesized) -> dict[str, Any]:
    """The executor's mapping (the notification sender consumes a queue of its own)."""
    executor = function_by_module(synth, "strategy_executor")
    (mapping,) = [
        m
        for m in platform_mappings(synth, "AWS::SQS::Queue").values()
        if ref_target(m["Properties"]["FunctionName"]) == executor
    ]
    return mapping


def test_the_run_queue_alarms_before_its_entries_would_be_refused_as_late(synthesized: Synthesized) -> None:
    mapping = _run_queue_mapping(synthesized)
    run_queue = ref_target(mapping["Properties"]["EventSourceArn"])
    executor = synthesized.resources[ref_target(mapping["Properties"]["FunctionName"]) or ""]
    entry_bound = int(executor["Properties"]["Environment"]["Variables"]["ENTRY_MAX_LAG_SECONDS"])
    (age,) = _on_metric(synthesized, "ApproximateAgeOfOldestMessage")
    assert ref_target(_dimension(age, "QueueName")) == run_queue
    assert (age["Statistic"], age["Period"]) == ("Maximum", 60)
    assert (
        age["Threshold"]
        == entry_bound // 2
        == RuntimeSettings.model_fields["entry_max_lag_seconds"].default // 2
    )
    assert age["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def _dead_letter_queues(synth: Synthesized) -> set[str]:
    """Every queue something sends its failures to, read from the template."""
    targets: list[Any] = []
    for queue in synth.of_type("AWS::SQS::Queue").values():
        if "RedrivePolicy" in queue["Properties"]:
            targets.append(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
    for rule in synth.of_type("AWS::Events::Rule").values():
        targets += [
            t["DeadLetterConfig"]["Arn"] for t in rule["Properties"]["Targets"] if "DeadLetterConfig" in t
        ]
    for config in synth.of_type("AWS::Lambda::EventInvokeConfig").values():
        targets.append(config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
    for schedule in synth.of_type("AWS::Scheduler::Schedule").values():
        targets.append(schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"])
    for mapping in synth.of_type("AWS::Lambda::EventSourceMapping").values():
        if "DestinationConfig" in mapping["Properties"]:
            targets.append(mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
    return {ref_target(target) or "" for target in targets}


def test_every_dead_letter_queue_alarms_on_its_first_message(synthesized: Synthesized) -> None:
    queues = set(synthesized.of_type("AWS::SQS::Queue"))
    consumed = {
        ref_target(mapping["Properties"]["EventSourceArn"])
        for mapping in platform_mappings(synthesized, "AWS::SQS::Queue").values()
    }
    dead_letter_queues = _dead_letter_queues(synthesized)
    assert dead_letter_queues == queues - consumed  # the run queue and the notification queue
    # Five event handlers (four timer handlers, the feed's broadcaster), the starter, the run
    # queue, the stream reads (the feed's and the notifier's), the backtest job function, the
    # notification queue.
    assert len(dead_letter_queues) == 10
    watched = Counter()
    for alarm in _on_metric(synthesized, "ApproximateNumberOfMessagesVisible"):
        watched[ref_target(_dimension(alarm, "QueueName"))] += 1
        # > 0 or >= 1: one message is enough, within a minute.
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) in {
            ("GreaterThanThreshold", 0),
            ("GreaterThanOrEqualToThreshold", 1),
        }
        assert alarm["Period"] == 60
    assert watched == dict.fromkeys(dead_letter_queues, 1)


def test_a_session_minute_without_its_tick_alarms_and_quiet_days_do_not(synthesized: Synthesized) -> None:
    (skipped,) = _on_metric(synthesized, TIMER_MINUTES_SKIPPED_METRIC)
    assert skipped["Namespace"] == METRICS_NAMESPACE
    assert _dimension(skipped, "service") == SERVICE_NAME
    assert (skipped["Statistic"], skipped["Period"], skipped["Threshold"]) == ("Sum", 60, 1)
    assert skipped["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # The emitter publishes only while a session runs: nights and holidays send no datapoint.
    assert skipped["TreatMissingData"] == "notBreaching"


def test_one_dashboard_draws_the_alarms_the_timer_functions_queues_and_tables(
    synthesized: Synthesized,
) -> None:
    prefix = resource_prefix(synthesized.config.name)
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"{prefix}-operations"
    assert (
        f"dashboards:name={prefix}-operations"
        in synthesized.template["Outputs"]["OperationsDashboardUrl"]["Value"]
    )
    body = json.dumps(dashboard["Properties"]["DashboardBody"])

    def drawn(reference: dict[str, Any]) -> bool:
        return json.dumps(reference) in body

    for function_id in platform_functions(synthesized):
        assert drawn({"Ref": function_id}), function_id
    for queue_id in synthesized.of_type("AWS::SQS::Queue"):
        assert drawn({"Fn::GetAtt": [queue_id, "QueueName"]}), queue_id
    for table_id in synthesized.of_type("AWS::DynamoDB::Table"):
        assert drawn({"Ref": table_id}), table_id
    for machine_id in synthesized.of_type("AWS::StepFunctions::StateMachine"):
        assert drawn({"Ref": machine_id})
    for alarm_id in synthesized.of_type("AWS::CloudWatch::Alarm"):
        assert drawn({"Fn::GetAtt": [alarm_id, "Arn"]}), alarm_id
    for metric_name in (
        TIMER_EVENTS_EMITTED_METRIC,
        TIMER_MINUTES_SKIPPED_METRIC,
        "ExecutionsFailed",
        "5XXError",
    ):
        assert metric_name in body
