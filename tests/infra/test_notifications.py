"""Notifications in the template: a second reader of the history and broker-accounts streams,
its own queue with a dead-letter queue that alarms, a sender consuming that queue with partial
batches, and least privilege (the one preferences attribute the sender may write, bot tokens
under their prefix, SES from the configured identity only). One synthesis of its own: production,
with an e-mail sender configured (the checked-in environments have none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cdk_stack.application import build_app
from cdk_stack.config import stack_name
from cdk_stack.notifications import SENDER_SETTINGS_ATTRIBUTES, notification_secret_prefix
from lambda_functions.option_baskets import NOTIFICATION_SENDER, NOTIFIER
from shared_utils.api.catalog import BASKET_MANAGER
from shared_utils.notifications.sender import MAX_RECEIVES
from shared_utils.tables import resource_prefix
from tests.infra.conftest import Synthesized, _cli_context, deployed_config
from tests.infra.helpers import (
    as_list,
    function_by_module,
    policy_statements_of_role,
    ref_target,
    rendered,
    statement_targets,
)

pytestmark = pytest.mark.infra
SENDER_ADDRESS = "trade-alerts@ql-trading-desk.in"


@pytest.fixture(scope="module")
def synth(built_assets: None, console_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk-notifications")
    config = deployed_config("production").model_copy(update={"notification_email_sender": SENDER_ADDRESS})
    app, _ = build_app(config, outdir=str(outdir), context=_cli_context("production", console_build))
    app.synth()
    template = json.loads((outdir / f"{stack_name(config.name)}.template.json").read_text())
    return Synthesized(config, outdir, template)


def _statements(synth: Synthesized, module: str) -> list[dict[str, Any]]:
    role = synth.resources[function_by_module(synth, module)]["Properties"]["Role"]
    return policy_statements_of_role(synth, ref_target(role) or "")


def _environment(synth: Synthesized, module: str) -> dict[str, Any]:
    return synth.resources[function_by_module(synth, module)]["Properties"]["Environment"]["Variables"]


def _mappings_of(synth: Synthesized, function: str) -> list[dict[str, Any]]:
    return [
        mapping["Properties"]
        for mapping in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if ref_target(mapping["Properties"]["FunctionName"]) == function
    ]


def test_the_notifier_reads_both_streams_and_only_queues(synth: Synthesized) -> None:
    notifier = function_by_module(synth, NOTIFIER)
    sources = {
        (ref_target(m["EventSourceArn"]), m["EventSourceArn"]["Fn::GetAtt"][1])
        for m in _mappings_of(synth, notifier)
    }
    tables = {
        t["Properties"]["TableName"]: logical_id
        for logical_id, t in synth.of_type("AWS::DynamoDB::Table").items()
    }
    prefix = resource_prefix(synth.config.name)
    assert sources == {
        (tables[f"{prefix}-execution-history"], "StreamArn"),
        (tables[f"{prefix}-broker-accounts"], "StreamArn"),
    }
    for mapping in _mappings_of(synth, notifier):
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 2
        assert "OnFailure" in mapping["DestinationConfig"]
    actions = {action for s in _statements(synth, NOTIFIER) for action in as_list(s["Action"])}
    # It reads preferences and names and sends to its queue: no write to any table, no secret.
    assert not {
        a for a in actions if a.startswith("dynamodb:") and ("Put" in a or "Update" in a or "Delete" in a)
    }
    assert not {a for a in actions if a.startswith(("secretsmanager:", "ses:", "kms:"))}
    assert "VpcConfig" not in synth.resources[notifier]["Properties"]


def test_the_sender_consumes_its_queue_in_partial_batches_and_the_dead_letter_queue_alarms(
    synth: Synthesized,
) -> None:
    sender = function_by_module(synth, NOTIFICATION_SENDER)
    (mapping,) = _mappings_of(synth, sender)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue_id = ref_target(mapping["EventSourceArn"]) or ""
    queue = synth.resources[queue_id]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * synth.resources[sender]["Properties"]["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES
    dlq = ref_target(queue["RedrivePolicy"]["deadLetterTargetArn"])
    (alarm,) = [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if any(ref_target(d.get("Value")) == dlq for d in a["Properties"].get("Dimensions", []))
    ]
    assert (alarm["MetricName"], alarm["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    (topic,) = synth.of_type("AWS::SNS::Topic")
    assert [ref_target(action) for action in alarm["AlarmActions"]] == [topic]  # the stack's alarm action
    # The notifier and the settings routes may send to it; the sender also pushes messages back.
    for module in (NOTIFIER, BASKET_MANAGER):
        assert any(
            "sqs:SendMessage" in as_list(s["Action"]) and queue_id in statement_targets(s)
            for s in _statements(synth, module)
        )
    assert any(
        "sqs:ChangeMessageVisibility" in as_list(s["Action"]) and queue_id in statement_targets(s)
        for s in _statements(synth, NOTIFICATION_SENDER)
    )


def test_the_sender_may_write_only_the_channel_errors_of_a_users_preferences(synth: Synthesized) -> None:
    tables = {
        t["Properties"]["TableName"]: logical_id
        for logical_id, t in synth.of_type("AWS::DynamoDB::Table").items()
    }
    trading = tables[f"{resource_prefix(synth.config.name)}-trading-configurations"]
    on_trading = [s for s in _statements(synth, NOTIFICATION_SENDER) if trading in statement_targets(s)]
    (statement,) = on_trading
    assert as_list(statement["Action"]) == ["dynamodb:UpdateItem"]
    assert (
        statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        == list(SENDER_SETTINGS_ATTRIBUTES)
        == ["pk", "sk", "version", "channel_errors"]
    )


def test_bot_tokens_are_written_by_the_routes_and_read_by_the_sender_under_their_prefix_only(
    synth: Synthesized,
) -> None:
    pattern = f"secret:{notification_secret_prefix(synth.config)}*"
    assert pattern == "secret:ql-algo-trading/production/notifications/*"

    def secret_actions(module: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for statement in _statements(synth, module):
            for action in as_list(statement["Action"]):
                if action.startswith("secretsmanager:"):
                    found.setdefault(rendered(statement["Resource"]).rpartition(":")[2], set()).add(action)
        return found

    sender = secret_actions(NOTIFICATION_SENDER)
    assert sender == {"ql-algo-trading/production/notifications/*": {"secretsmanager:GetSecretValue"}}
    routes = secret_actions(BASKET_MANAGER)
    assert routes["ql-algo-trading/production/notifications/*"] == {
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DeleteSecret",
    }
    environment = _environment(synth, BASKET_MANAGER)
    assert environment["NOTIFICATION_SECRET_PREFIX"] == "ql-algo-trading/production/notifications/"
    assert environment["NOTIFICATION_EMAIL_SENDER"] == SENDER_ADDRESS
    assert "NOTIFICATION_QUEUE_URL" in environment
    assert "TELEGRAM_API_URL" not in _environment(synth, NOTIFICATION_SENDER)  # Telegram's own


def test_email_goes_from_the_configured_ses_identity_only(synth: Synthesized) -> None:
    ((identity_id, identity),) = synth.of_type("AWS::SES::EmailIdentity").items()
    ((configuration_id, _),) = synth.of_type("AWS::SES::ConfigurationSet").items()
    assert identity["Properties"]["EmailIdentity"] == SENDER_ADDRESS
    assert (
        ref_target(identity["Properties"]["ConfigurationSetAttributes"]["ConfigurationSetName"])
        == configuration_id
    )
    (send,) = [s for s in _statements(synth, NOTIFICATION_SENDER) if "ses:SendEmail" in as_list(s["Action"])]
    assert statement_targets(send) - {"AWS::Partition", "AWS::AccountId"} == {identity_id, configuration_id}
    for module in (NOTIFIER, BASKET_MANAGER):
        assert not [
            s for s in _statements(synth, module) if any(a.startswith("ses:") for a in as_list(s["Action"]))
        ]


def test_the_alarm_topic_invokes_the_notifier_for_the_admins_platform_alarms(synth: Synthesized) -> None:
    notifier = function_by_module(synth, NOTIFIER)
    (topic,) = [
        topic_id
        for topic_id, topic in synth.of_type("AWS::SNS::Topic").items()
        if rendered(topic["Properties"]["TopicName"]).endswith("-operator-alarms")
    ]
    lambda_subscriptions = [
        subscription["Properties"]
        for subscription in synth.of_type("AWS::SNS::Subscription").values()
        if subscription["Properties"]["Protocol"] == "lambda"
    ]
    assert [(ref_target(s["TopicArn"]), ref_target(s["Endpoint"])) for s in lambda_subscriptions] == [
        (topic, notifier)
    ]
    (permission,) = [
        permission["Properties"]
        for permission in synth.of_type("AWS::Lambda::Permission").values()
        if permission["Properties"]["Principal"] == "sns.amazonaws.com"
    ]
    assert permission["Action"] == "lambda:InvokeFunction"
    assert ref_target(permission["FunctionName"]) == notifier
    assert ref_target(permission["SourceArn"]) == topic
    # The operators' e-mail subscriptions stay beside it.
    emails = [
        s["Properties"]["Endpoint"]
        for s in synth.of_type("AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "email"
    ]
    assert sorted(emails) == sorted(synth.config.alarm_emails)


def test_the_stack_stays_under_cloudformations_resource_limit(synth: Synthesized) -> None:
    assert len(synth.resources) < 500
