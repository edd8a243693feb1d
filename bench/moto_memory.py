"""What in-process moto keeps of what it returns: peak memory of repeated Queries with moto's
model tracking on (its default: every item copy a query returns is kept for its dashboard) and
off (`local_platform.moto_memory`, as the local platform and `simulate` run it),
side by side, each in a fresh interpreter.

    .venv/bin/python bench/moto_memory.py [--items 500] [--queries 100]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(tracking_off: bool, items: int, queries: int) -> str:
    sys.path.insert(0, str(ROOT))
    if tracking_off:
        from local_platform import moto_memory

        moto_memory.install()
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-south-1")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(items):
            client.put_item(
                TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": f"{n:05d}"}, "blob": {"S": "x" * 500}}
            )
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        for _ in range(queries):
            client.query(
                TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
            )
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        return f"{grown:.0f} MiB in {time.perf_counter() - started:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--mode", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(measure(args.mode == "off", args.items, args.queries))
        return 0
    figures = {}
    for mode in ("on", "off"):
        run = [
            sys.executable,
            __file__,
            "--mode",
            mode,
            "--items",
            str(args.items),
            "--queries",
            str(args.queries),
        ]
        figures[mode] = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    print(
        f"{args.queries} Queries of {args.items} items, peak RSS growth: "
        f"tracking on (moto's default) {figures['on']}, off {figures['off']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
