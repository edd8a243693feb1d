"""Tables: keys and indexes from `shared_utils.tables`, on-demand, encrypted, PITR per environment."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from shared_utils.tables import (
    ALLOCATIONS_BY_STRATEGY,
    EXECUTIONS_BY_STRATEGY,
    USER_EXECUTION_SCHEDULE,
    resource_prefix,
)
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.infra


def _table(synth: Synthesized, suffix: str) -> dict[str, Any]:
    name = f"{resource_prefix(synth.config.name)}-{suffix}"
    matches = [
        table["Properties"]
        for table in synth.of_type("AWS::DynamoDB::Table").values()
        if table["Properties"]["TableName"] == name
    ]
    assert len(matches) == 1, name
    return matches[0]


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(key["AttributeName"], key["KeyType"]) for key in schema]


def test_trading_table_has_both_gsis_with_their_keys(synthesized: Synthesized) -> None:
    synthesized.assertions().has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": f"{resource_prefix(synthesized.config.name)}-trading-configurations",
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {"IndexName": USER_EXECUTION_SCHEDULE, "Projection": {"ProjectionType": "ALL"}}
                    )
                ]
            ),
        },
    )
    table = _table(synthesized, "trading-configurations")
    assert _keys(table["KeySchema"]) == [("pk", "HASH"), ("sk", "RANGE")]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {ALLOCATIONS_BY_STRATEGY, USER_EXECUTION_SCHEDULE}
    assert _keys(indexes[ALLOCATIONS_BY_STRATEGY]["KeySchema"]) == [("gsi1pk", "HASH"), ("gsi1sk", "RANGE")]
    assert _keys(indexes[USER_EXECUTION_SCHEDULE]["KeySchema"]) == [("gsi2pk", "HASH"), ("gsi2sk", "RANGE")]
    assert all(index["Projection"]["ProjectionType"] == "ALL" for index in indexes.values())
    attributes = {item["AttributeName"]: item["AttributeType"] for item in table["AttributeDefinitions"]}
    assert attributes == dict.fromkeys(["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"], "S")
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_execution_history_is_indexed_by_strategy(synthesized: Synthesized) -> None:
    table = _table(synthesized, "execution-history")
    assert _keys(table["KeySchema"]) == [("pk", "HASH"), ("sk", "RANGE")]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == EXECUTIONS_BY_STRATEGY
    assert _keys(index["KeySchema"]) == [("gsi1pk", "HASH"), ("gsi1sk", "RANGE")]


def test_idempotency_table_uses_powertools_attribute_names(synthesized: Synthesized) -> None:
    table = _table(synthesized, "idempotency")
    assert _keys(table["KeySchema"]) == [("id", "HASH")]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_every_table_is_on_demand_and_kms_encrypted(synthesized: Synthesized) -> None:
    tables = synthesized.of_type("AWS::DynamoDB::Table")
    assert tables
    for table in tables.values():
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        # AWS-managed KMS key (aws/dynamodb), auditable in CloudTrail, rather than the AWS-owned key.
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}


@pytest.mark.parametrize(
    ("mode", "enabled", "deletion"), [("standalone", False, "Delete"), ("cross_stack", True, "Retain")]
)
def test_pitr_and_removal_follow_the_environment(
    mode: str, enabled: bool, deletion: str, request: pytest.FixtureRequest
) -> None:
    synth: Synthesized = request.getfixturevalue(mode)
    for table in synth.of_type("AWS::DynamoDB::Table").values():
        spec = table["Properties"]["PointInTimeRecoverySpecification"]
        assert spec["PointInTimeRecoveryEnabled"] is enabled
        assert table["DeletionPolicy"] == deletion
