"""One in-process DynamoDB request on moto, as the local platform used to make it and as it makes
it now (`local_platform/inprocess_dynamodb.py`: JSON answers, partition queries, unsigned), side
by side in one run: a GetItem, a Query of the table's key (one item of a 50-item partition) and an
index Query returning 5 items, on a 500-item table (each item a dozen attributes).

    .venv/bin/python bench/moto_requests.py [--items 500] [--repeat 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local_platform.environment import REGION, export_client_environment  # noqa: E402

export_client_environment("ERROR")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

TABLE = {
    "TableName": "bench",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "open",
            "KeySchema": [
                {"AttributeName": "g", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def measure(client: Any, items: int, repeat: int) -> dict[str, float]:
    client.create_table(**TABLE)
    for n in range(items):
        item = {
            "pk": {"S": f"U{n % 10}"},
            "sk": {"S": f"S{n:05d}"},
            **{f"a{i}": {"S": "x" * 20} for i in range(12)},
        }
        if n % (items // 5) == 0:
            item["g"] = {"S": "OPEN"}
        client.put_item(TableName="bench", Item=item)
    calls: dict[str, Callable[[], Any]] = {
        "GetItem": lambda: client.get_item(TableName="bench", Key={"pk": {"S": "U1"}, "sk": {"S": "S00001"}}),
        "Query (key)": lambda: client.query(
            TableName="bench",
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={":p": {"S": "U1"}, ":s": {"S": "S0001"}},
        ),
        "Query (index, 5 items)": lambda: client.query(
            TableName="bench",
            IndexName="open",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "OPEN"}},
        ),
    }
    figures = {}
    for name, call in calls.items():
        began = time.perf_counter()
        for _ in range(repeat):
            call()
        figures[name] = (time.perf_counter() - began) / repeat * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with mock_aws():  # moto as it comes (nothing of the local platform installed yet)
        before = measure(boto3.client("dynamodb", region_name=REGION), args.items, args.repeat)
    from local_platform.inprocess_dynamodb import in_process_dynamodb

    with in_process_dynamodb() as client:
        after = measure(client, args.items, args.repeat)
    print(f"In-process DynamoDB on moto, {args.items} items, mean of {args.repeat} calls (ms)")
    print(f"  {'request':<24} {'moto as it comes':>17} {'local engine':>13} {'ratio':>7}")
    for name in before:
        print(f"  {name:<24} {before[name]:>17.2f} {after[name]:>13.2f} {before[name] / after[name]:>6.1f}x")


if __name__ == "__main__":
    main()
