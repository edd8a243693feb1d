"""The embedded DynamoDB keeps no copy of what it returned (moto's model tracking is off)."""

from __future__ import annotations

import boto3
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item

from local_platform import moto_memory


def test_items_read_back_are_not_kept_by_moto() -> None:
    moto_memory.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-south-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(20):
            client.put_item(TableName="t", Item={"pk": {"S": f"k{n}"}, "v": {"N": str(n)}})
        for _ in range(5):
            assert len(client.scan(TableName="t")["Items"]) == 20
        assert Item.instances_tracked == []  # moto's dashboard list, which grew with every copy
        assert client.get_item(TableName="t", Key={"pk": {"S": "k3"}})["Item"]["v"] == {"N": "3"}
