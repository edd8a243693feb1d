"""cdk-nag finds nothing unacknowledged, every acknowledgement has a reason, cfn-lint finds no error,
and no IAM statement grants on `*` unless the service allows nothing narrower and it says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.helpers import as_list

pytestmark = pytest.mark.infra

# Services whose actions have no resource-level permissions: the only acceptable `*` resources.
RESOURCELESS_ACTIONS = {
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
}


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    report = synthesized.validation_report()
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_every_acknowledgement_carries_a_specific_reason(synthesized: Synthesized) -> None:
    acknowledgements = [
        rule
        for resource in synthesized.resources.values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledgements
    for rule in acknowledgements:
        assert rule["id"].startswith("AwsSolutions-")
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


def test_cfn_lint_finds_no_errors(synthesized: Synthesized) -> None:
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
