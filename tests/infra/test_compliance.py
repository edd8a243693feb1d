"""cdk-nag finds nothing unacknowledged, every acknowledgement has a reason, cfn-lint finds no error,
and no IAM statement grants on `*` unless the service allows nothing narrower and it says why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_sqs as sqs

from cdk_stack.application import build_app
from cdk_stack.brokers import LAMBDA_ENI_ACTIONS
from cdk_stack.config import load_environment
from tests.infra.conftest import Synthesized
from tests.infra.helpers import as_list

pytestmark = pytest.mark.infra

# Actions AWS documents only on `*` (no resource-level permissions, or Lambda's own ENI
# management for functions in a VPC): the only acceptable `*` resources.
RESOURCELESS_ACTIONS = {
    *LAMBDA_ENI_ACTIONS,
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # Reading a table stream (the live feed's broadcaster): ListStreams has no resource type.
    "dynamodb:ListStreams",
}


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    report = synthesized.validation_report()
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_an_unacknowledged_finding_stops_synthesis(
    built_assets: None, console_build: Path, tmp_path: Path
) -> None:
    """The rule pack really runs on `build_app`'s synthesis: a queue without TLS enforcement fails it."""
    app, stack = build_app(load_environment("dev"), outdir=str(tmp_path), console_dir=console_build)
    sqs.Queue(stack, "InsecureQueue", encryption=sqs.QueueEncryption.SQS_MANAGED)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    findings = {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }
    assert {rule for rule, path in findings} == {"AwsSolutions-SQS3", "AwsSolutions-SQS4"}
    assert all("/InsecureQueue/" in path for _, path in findings)


def test_every_acknowledgement_carries_a_specific_reason(synthesized: Synthesized) -> None:
    acknowledgements = [
        rule
        for resource in synthesized.resources.values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledgements
    for rule in acknowledgements:
        # aws-cdk-lib acknowledges a few of its own template-validation rules (e.g. the VPC's
        # "CloudFormation-Validate::W3010"); every other acknowledgement is ours, for cdk-nag.
        assert rule["id"].startswith(("AwsSolutions-", "CloudFormation-Validate::")), rule
        assert len(rule["reason"].split()) >= 8, rule


def test_wildcard_resources_only_where_aws_allows_nothing_narrower(synthesized: Synthesized) -> None:
    for logical_id, policy in synthesized.of_type("AWS::IAM::Policy").items():
        acknowledged = {
            rule["id"] for rule in policy.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        }
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "*" not in as_list(statement["Resource"]):
                continue
            assert set(as_list(statement["Action"])) <= RESOURCELESS_ACTIONS, (logical_id, statement)
            assert "AwsSolutions-IAM5[Resource::*]" in acknowledged, logical_id
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not any(action.endswith(":*") or action == "*" for action in as_list(statement["Action"]))


# cfn-lint takes ~30 s a template on this machine: `make test` lints the standalone stack, the
# other two configurations run in `make test-all`.
@pytest.mark.parametrize(
    "configuration",
    [
        "standalone",
        pytest.param("cross_stack", marks=pytest.mark.slow),
        pytest.param("staging", marks=pytest.mark.slow),
    ],
)
def test_cfn_lint_finds_no_errors(configuration: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(configuration)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--non-zero-exit-code",
            "error",
            str(synthesized.template_file),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
