"""The synthesized template, once (dev, through the CLI as `cdk synth` runs it): every async
target keeps its failures (DLQ and maximum event age), no `*` IAM resource without an
acknowledged reason, the Cognito authorizer on every method, cdk-nag and cfn-lint clean.

Every one of these is also asserted per environment (dev, staging, production) by tests/infra
(test_events, test_compliance, test_api); this is the reliability suite's one-synth summary,
marked slow because a synth costs tens of seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import Synthesized, built_assets, standalone  # noqa: F401
from tests.infra.helpers import as_list, ref_target
from tests.infra.test_compliance import RESOURCELESS_ACTIONS

pytestmark = [pytest.mark.slow, pytest.mark.infra]


def test_the_template_keeps_failures_scopes_iam_authorizes_every_method_and_lints_clean(
    standalone: Synthesized,  # noqa: F811
) -> None:
    template = standalone
    queues = template.of_type("AWS::SQS::Queue")
    problems: list[str] = []

    for rule_id, rule in template.of_type("AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            if ref_target(target.get("DeadLetterConfig", {}).get("Arn")) not in queues:
                problems.append(f"{rule_id}: target without a DLQ")
            if not target.get("RetryPolicy", {}).get("MaximumEventAgeInSeconds"):
                problems.append(f"{rule_id}: target without a maximum event age")
    for config_id, config in template.of_type("AWS::Lambda::EventInvokeConfig").items():
        properties = config["Properties"]
        if (
            ref_target(properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
            not in queues
        ):
            problems.append(f"{config_id}: async invocations without an on-failure queue")
        if not properties.get("MaximumEventAgeInSeconds"):
            problems.append(f"{config_id}: no maximum event age")

    for policy_id, policy in template.of_type("AWS::IAM::Policy").items():
        acknowledged = {
            rule["id"]: rule["reason"]
            for rule in policy.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        }
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "*" not in as_list(statement["Resource"]):
                continue
            if not set(as_list(statement["Action"])) <= RESOURCELESS_ACTIONS:
                problems.append(f"{policy_id}: '*' resource for {statement['Action']}")
            if len(acknowledged.get("AwsSolutions-IAM5[Resource::*]", "").split()) < 8:
                problems.append(f"{policy_id}: '*' resource without a specific reason")

    for method_id, method in template.of_type("AWS::ApiGateway::Method").items():
        properties = method["Properties"]
        if (
            properties["HttpMethod"] != "OPTIONS"
            and properties.get("AuthorizationType") != "COGNITO_USER_POOLS"
        ):
            problems.append(f"{method_id}: {properties['HttpMethod']} without the Cognito authorizer")

    report = template.validation_report()
    problems += [
        f"cdk-nag: {violation['ruleName']}"
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
    lint = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--non-zero-exit-code",
            "error",
            str(template.template_file),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if lint.returncode != 0:
        problems.append(f"cfn-lint: {lint.stdout[-2000:]}")

    assert template.of_type("AWS::Events::Rule") and template.of_type("AWS::ApiGateway::Method")
    assert problems == []
