"""N strategies due in the same minute: the trigger's cost, the executor's cost per strategy, and
the local platform's time to place every order.

Strategies (iron condors: 4 legs on 2 paper accounts) are seeded as stored items spread over
users and the GSI2 schedule shards, all due at 09:20 IST. Three measurements, each printed:

1. trigger: `Platform.trigger` for that minute (due entries, batched status reads, claims in
   transactions, SendMessageBatch to an SQS queue): wall time, DynamoDB and SQS requests, and the
   same requests priced at 5 ms (DynamoDB) and 10 ms (SQS batch) each as a model of AWS.
2. executor: a sample of the queued messages run one by one through `strategy_executor.handler`:
   requests per strategy, p50 / p99 time per strategy on moto, and modeled on AWS with 5 ms per
   request and 150 ms per broker order (one account's orders in sequence, accounts in parallel);
   from that, the executors 10,000 strategies need to finish within the minute.
3. local: the local platform's path (trigger -> in-process queue with worker threads -> the same
   handler), timed until every order of `--local` strategies is placed.

moto runs in process (its calls serialised by one lock: it is not thread-safe), so wall times are
moto's and Python's, not DynamoDB's; the request counts are the code's. One moto artefact is
taken out: for its rollback, moto's TransactWriteItems deep-copies the whole table once per item
of the transaction (O(items x table), 72 s per 100-claim transaction with 1,000 strategies
seeded), which DynamoDB does not do; the bench installs the embedded backend's fix
(`local_platform/moto_transactions.py`: a snapshot of the items the transaction names).

    .venv/bin/python bench/fanout.py [--strategies 1000 10000] [--sample 200] [--local 1000]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGION = "ap-south-1"
os.environ.update(
    {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "fanout-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "FanoutBench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
from bench.load import condor  # noqa: E402  (after the environment is set)
from local_platform.inprocess_dynamodb import SerializedClient  # noqa: E402
from shared_utils.execution.sqs_queue import SENDERS  # noqa: E402

TICK = datetime(2026, 11, 25, 3, 50, tzinfo=UTC)  # Wednesday 09:20 IST
TRADE_DATE = date(2026, 11, 25)
SHARDS = 8
DYNAMODB_MS = 5.0
SQS_BATCH_MS = 10.0
BROKER_MS = 150.0
ORDERS_PER_ACCOUNT = 4


class Requests:
    """Counts AWS requests by operation while `counting`."""

    def __init__(self, *clients: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.counting = False
        self._started: dict[int, float] = {}
        for client in clients:
            client.meta.events.register("before-call", self._count)
            client.meta.events.register("after-call", self._timed)

    def _count(self, event_name: str, **_kwargs: Any) -> None:
        if self.counting:
            _before, service, operation = event_name.split(".", 2)
            self.calls[f"{service}.{operation}"] += 1
            self._started[threading.get_ident()] = time.perf_counter()

    def _timed(self, event_name: str, **_kwargs: Any) -> None:
        started = self._started.pop(threading.get_ident(), None)
        if self.counting and started is not None:
            _after, service, operation = event_name.split(".", 2)
            self.seconds[f"{service}.{operation}"] += time.perf_counter() - started

    @contextmanager
    def window(self) -> Iterator[Counter[str]]:
        self.calls = Counter()
        self.seconds = Counter()
        self.counting = True
        try:
            yield self.calls
        finally:
            self.counting = False

    @staticmethod
    def of(calls: Counter[str], service: str) -> int:
        return sum(n for name, n in calls.items() if name.startswith(f"{service}."))


def seed(raw: Any, settings: Any, strategies: int, users: int) -> list[tuple[str, str]]:
    """Strategies, their allocations, schedule items and paper accounts, as stored items."""
    from shared_utils.keys import ScheduleKind
    from shared_utils.models.allocation import BrokerAllocation, allocation_id_for
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.models.common import AllocationScope
    from shared_utils.models.items import AllocationItem, ScheduleItem, StrategyItem
    from shared_utils.models.strategy import Strategy, StrategyCreate
    from shared_utils.repository.broker_accounts import DynamoBrokerAccounts

    body = StrategyCreate.model_validate(condor("Iron condor", "09:20", "15:10"))
    trading = settings.trading_table_name
    accounts = DynamoBrokerAccounts(raw, settings.broker_accounts_table_name)
    seeded: list[tuple[str, str]] = []
    per_user = -(-strategies // users)
    for index in range(strategies):
        user = f"user-{index // per_user:05d}"
        if index % per_user == 0:
            for n in (1, 2):
                account = BrokerAccount(
                    user_id=user,
                    broker_account_id=f"{user}-acct{n}",
                    broker="PAPER",
                    paper=True,
                    created_at=TICK,
                )
                accounts.put_account(account)
        stored = Strategy(
            strategy_id=f"strategy-{index:05d}",
            user_id=user,
            basket_id=f"basket-{index:05d}",
            allocation_count=2,
            version=1,
            created_at=TICK,
            updated_at=TICK,
            **dict(body),
        )
        raw.put_item(TableName=trading, Item=StrategyItem.from_domain(stored).to_dynamo())
        for kind in (ScheduleKind.ENTRY, ScheduleKind.EXIT):
            item = ScheduleItem.for_strategy(stored, kind, settings.schedule_shards)
            raw.put_item(TableName=trading, Item=item.to_dynamo())
        for n, lots in ((1, 1), (2, 2)):
            account_id = f"{user}-acct{n}"
            allocation = BrokerAllocation(
                allocation_id=allocation_id_for(stored.strategy_id, account_id),
                user_id=user,
                scope=AllocationScope.STRATEGY,
                scope_id=stored.strategy_id,
                basket_id=stored.basket_id,
                broker_account_id=account_id,
                broker="PAPER",
                lots=lots,
                version=1,
                created_at=TICK,
                updated_at=TICK,
            )
            raw.put_item(TableName=trading, Item=AllocationItem.from_domain(allocation).to_dynamo())
        seeded.append((user, stored.strategy_id))
    return seeded


@contextmanager
def platform(queue: str) -> Iterator[tuple[Any, Any, Any]]:
    """In-process moto with the stack's tables; `queue`: "sqs" (a moto queue) or "local"."""
    import boto3
    from moto import mock_aws

    from local_platform.backend import create_tables
    from local_platform.environment import export_runtime_settings, local_settings
    from local_platform.root import one_process_root
    from shared_utils.clock import FixedClock
    from shared_utils.composition import Platform, install

    with mock_aws():
        raw = boto3.client("dynamodb", region_name=REGION)
        settings = local_settings(None, schedule_shards=SHARDS)
        sqs = boto3.client("sqs", region_name=REGION)
        if queue == "sqs":
            url = sqs.create_queue(QueueName="strategy-runs")["QueueUrl"]
            settings = settings.model_copy(update={"strategy_run_queue_url": url})
        create_tables(raw, settings)
        export_runtime_settings(settings)
        clients = {"dynamodb": SerializedClient(raw), "sqs": sqs}
        root = (
            one_process_root(settings, FixedClock(TICK), wait_for_runs=True, **clients)
            if queue == "local"
            else Platform(settings, FixedClock(TICK), one_process=True, **clients)
        )
        previous = install(root)
        try:
            yield root, raw, sqs
        finally:
            install(previous)
            root.close()


def envelope() -> Any:
    from shared_utils.timer.plan import events_for

    (event,) = [
        e for e in events_for(TICK, "morning", TRADE_DATE) if e.detail_type == "ScheduleStrategyTrigger"
    ]
    return event.envelope


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def trigger_and_executor(strategies: int, sample: int) -> None:
    from lambda_functions.option_baskets import strategy_executor
    from local_platform.run_queue import sqs_record
    from local_platform.wsgi import LocalContext

    with platform("sqs") as (root, raw, sqs):
        started = time.perf_counter()
        seed(raw, root.settings, strategies, users=max(1, strategies // 4))
        seeding = time.perf_counter() - started
        requests = Requests(raw, sqs)
        with requests.window() as calls:
            started = time.perf_counter()
            report = root.trigger(envelope())
            wall = time.perf_counter() - started
        assert report.already_claimed == 0 and report.requested_count == strategies, report.requested_count
        dynamodb, batches = Requests.of(calls, "dynamodb"), Requests.of(calls, "sqs")
        # SendMessageBatch calls go SENDERS at a time; DynamoDB requests one after another.
        modeled = (dynamodb * DYNAMODB_MS + -(-batches // SENDERS) * SQS_BATCH_MS) / 1000
        print(f"\n== trigger: {strategies} strategies due at 09:20 (seeding {seeding:.0f} s, not timed)")
        print(f"queued {report.requested_count} runs; wall time {wall:.2f} s on moto")
        print(
            "moto time by operation: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(requests.seconds.items()))
        )
        print(
            f"requests: DynamoDB {dynamodb} ({dynamodb / strategies:.3f} per strategy), "
            f"SQS SendMessageBatch {batches}; by operation: {dict(sorted(calls.items()))}"
        )
        print(
            f"modeled on AWS ({DYNAMODB_MS:.0f} ms per DynamoDB request, "
            f"{SQS_BATCH_MS:.0f} ms per batch, {SENDERS} batches at once): {modeled:.1f} s"
        )

        taken = 0
        times: list[float] = []
        executor_calls: Counter[str] = Counter()
        while taken < min(sample, strategies):
            messages = sqs.receive_message(
                QueueUrl=root.settings.strategy_run_queue_url, MaxNumberOfMessages=10
            )
            for message in messages.get("Messages", [])[: min(sample, strategies) - taken]:
                event = {"Records": [sqs_record(message["MessageId"], message["Body"])]}
                with requests.window() as calls, redirect_stdout(io.StringIO()):
                    started = time.perf_counter()
                    answer = strategy_executor.handler(event, LocalContext(function_name="strategy-executor"))
                    times.append(time.perf_counter() - started)
                assert answer["batchItemFailures"] == [], answer
                # What the event source mapping does on success: a message left in the queue
                # would come back after its visibility timeout, run again and skew the sample.
                sqs.delete_message(
                    QueueUrl=root.settings.strategy_run_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                executor_calls.update(calls)
                taken += 1
        per_strategy = Requests.of(executor_calls, "dynamodb") / taken
        modeled_each = per_strategy * DYNAMODB_MS / 1000 + ORDERS_PER_ACCOUNT * BROKER_MS / 1000
        print(f"\n== executor: {taken} entry runs through strategy_executor.handler, one at a time")
        print(
            f"time per strategy on moto: p50 {percentile(times, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(times, 0.99) * 1000:.0f} ms, mean {statistics.mean(times) * 1000:.0f} ms"
        )
        print(
            f"DynamoDB requests per strategy {per_strategy:.1f}; by operation: "
            + ", ".join(
                f"{name.split('.', 1)[1]}={n / taken:.1f}"
                for name, n in sorted(executor_calls.items())
                if name.startswith("dynamodb.")
            )
        )
        needed = 10_000 * modeled_each / 60
        print(
            f"modeled on AWS: {modeled_each:.2f} s per strategy ({per_strategy:.0f} x {DYNAMODB_MS:.0f} ms + "
            f"{ORDERS_PER_ACCOUNT} orders x {BROKER_MS:.0f} ms per account, accounts in parallel): "
            f"10,000 strategies within 60 s need {needed:.0f} executors at once"
        )


def local(strategies: int) -> None:
    from shared_utils.brokers.paper import PaperBroker

    placed: Counter[str] = Counter()
    lock = threading.Lock()
    original = PaperBroker.place

    def place(broker: Any, order: Any) -> Any:
        with lock:
            placed[order.order_key] += 1
        return original(broker, order)

    PaperBroker.place = place  # type: ignore[method-assign]
    try:
        with platform("local") as (root, raw, _sqs), redirect_stdout(io.StringIO()):
            seed(raw, root.settings, strategies, users=max(1, strategies // 4))
            started = time.perf_counter()
            root.trigger(envelope())  # returns once the in-process queue is idle
            wall = time.perf_counter() - started
    finally:
        PaperBroker.place = original  # type: ignore[method-assign]
    orders = sum(placed.values())
    print(
        f"\n== local platform: {strategies} strategies due at 09:20, "
        f"{root.settings.local_run_workers} workers"
    )
    print(
        f"every order placed after {wall:.1f} s: {orders} orders ({len(placed)} keys, "
        f"each once: {set(placed.values()) == {1}}), {orders / wall:.1f} orders/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--strategies", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--sample", type=int, default=200, help="entry runs timed through the executor")
    parser.add_argument(
        "--local", type=int, default=1000, help="strategies for the local platform run (0: skip)"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from local_platform import moto_transactions

    moto_transactions.install()
    for count in args.strategies:
        trigger_and_executor(count, args.sample)
    if args.local:
        local(args.local)


if __name__ == "__main__":
    main()
