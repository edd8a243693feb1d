"""Operator alarms: each one notifies the encrypted operator topic, and the calendar's coverage
and the timer's failures have theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdk_stack.functions import METRICS_NAMESPACE
from shared_utils.timer.emitter import CALENDAR_DAYS_LEFT_ALARM, CALENDAR_DAYS_LEFT_METRIC
from tests.infra.conftest import Synthesized
from tests.infra.helpers import ref_target

pytestmark = pytest.mark.infra

ASL = Path(__file__).resolve().parents[2] / "step_functions" / "master_timer.asl.json"


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
