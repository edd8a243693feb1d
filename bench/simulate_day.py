"""A whole simulated session on the local platform: S strategies spread over U users on paper brokers.

Users, their paper accounts, baskets (at most 10 strategies each), strategies (templates, entry
times spread over 09:20-10:15, exits over 14:30-15:15) and allocations on two brokers are created
through the API handlers; then `local_platform.simulate` runs pre-open to close through the
same emitter, handlers, execution engine and paper brokers on a moto server. Prints wall time of
the session, peak memory (max RSS), orders per second and the DynamoDB requests the session made
(per tick, and the operations that made most of them: what the minute's fixed cost is).

    .venv/bin/python bench/simulate_day.py [--strategies 10000] [--users 1000] [--date 2026-11-23]

The defaults are small so `make bench` stays short; the issue's goal is 10,000 strategies over
1,000 users in under 60 s.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local_platform.environment import export_client_environment  # noqa: E402

export_client_environment("ERROR")

import boto3  # noqa: E402

# Every client is made from the default session after this line, so one hook counts them all.
REQUESTS: Counter[str] = Counter()
boto3.setup_default_session()
assert boto3.DEFAULT_SESSION is not None
boto3.DEFAULT_SESSION.events.register(
    "before-call.dynamodb", lambda model, **_: REQUESTS.update([model.name])
)

from local_platform.accounts import ensure_paper_accounts, paper_account_id  # noqa: E402
from local_platform.backend import create_tables, dynamodb, start_moto  # noqa: E402
from local_platform.demo import WEEKDAYS  # noqa: E402
from local_platform.environment import export_runtime_settings, local_settings  # noqa: E402
from local_platform.inprocess import InProcessApi  # noqa: E402
from local_platform.simulate import simulate  # noqa: E402
from shared_utils.models.strategy import ExpirySelection  # noqa: E402
from shared_utils.templates import TemplateName, template_legs  # noqa: E402

MAX_PER_BASKET = 10
ENTRY_TIMES = ("09:20", "09:30", "09:45", "10:00", "10:15")
EXIT_TIMES = ("14:30", "14:45", "15:00", "15:15")


def seed(endpoint: str, strategies: int, users: int) -> list[str]:
    settings = local_settings(endpoint)
    client = dynamodb(endpoint)
    create_tables(client, settings)
    export_runtime_settings(settings)
    legs = [
        leg.model_dump(mode="json")
        for leg in template_legs(TemplateName.IRON_CONDOR, ExpirySelection.CURRENT_WEEKLY)
    ]
    user_ids = [f"bench-user-{n:04d}" for n in range(users)]
    per_user = [strategies // users + (1 if n < strategies % users else 0) for n in range(users)]
    made = 0
    for user_id, count in zip(user_ids, per_user, strict=True):
        ensure_paper_accounts(client, settings.broker_accounts_table_name, user_id, datetime.now(UTC))
        api = InProcessApi(user_id)
        basket_id = ""
        for index in range(count):
            if index % MAX_PER_BASKET == 0:
                basket_id = api.call(
                    "POST", "/options/baskets", {"name": f"bench {index // MAX_PER_BASKET}"}
                )["basket_id"]
            body = {
                "name": f"condor {index}",
                "underlying": "NIFTY",
                "legs": legs,
                "entry": {"time": ENTRY_TIMES[made % len(ENTRY_TIMES)], "weekdays": WEEKDAYS},
                "exit": {"time": EXIT_TIMES[made % len(EXIT_TIMES)]},
            }
            strategy_id = api.call("POST", f"/options/baskets/{basket_id}/strategies", body)["strategy_id"]
            for broker, lots in (("ZERODHA", 1), ("FINVASIA", 1)):
                api.call(
                    "POST",
                    f"/options/strategies/{strategy_id}/brokers",
                    {"broker_account_id": paper_account_id(broker, user_id), "lots": lots},
                )
            made += 1
    return user_ids


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--strategies", type=int, default=4)
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 23))
    args = parser.parse_args()
    if args.strategies < 1 or not 1 <= args.users <= args.strategies:
        parser.error("need strategies >= users >= 1")
    endpoint = start_moto()
    try:
        started = time.perf_counter()
        user_ids = seed(endpoint.url, args.strategies, args.users)
        seeded = time.perf_counter() - started
        REQUESTS.clear()
        with (
            tempfile.TemporaryDirectory() as report_dir,
            (Path(report_dir) / "handlers.log").open("w") as log,
        ):
            summary = simulate(args.date, Path(report_dir), user_ids[0], endpoint.url, log)
    finally:
        endpoint.stop()
    wall = float(summary["wall_seconds"])
    orders = int(summary["fills"]["orders"])
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"strategies={args.strategies} users={args.users} date={args.date.isoformat()}")
    print(f"seeding through the API: {seeded:.1f} s")
    print(f"session: {summary['ticks']} ticks, {sum(summary['events']['by_type'].values())} events delivered")
    print(f"executions: {len(summary['executions'])}, orders: {orders} ({summary['fills']['filled']} filled)")
    print(f"handler errors: {len(summary['handler_errors'])}")
    print(f"wall time of the session: {wall:.1f} s, peak memory (max RSS): {peak_mib:.0f} MiB")
    print(f"orders per second: {orders / wall:.1f}")
    total = sum(REQUESTS.values())
    ticks = int(summary["ticks"])
    print(
        f"DynamoDB requests in the session: {total} "
        f"({total / ticks:.1f} per tick, {total / max(orders, 1):.1f} per order)"
    )
    print("  most: " + ", ".join(f"{name} {count}" for name, count in REQUESTS.most_common(6)))
    return 0 if not summary["handler_errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
