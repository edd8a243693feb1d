"""REST API latency per route (in process, moto DynamoDB) and cold import time per handler module.

Latency: each route's Lambda handler is called with API Gateway proxy events exactly as in
production (through the catalog dispatcher); moto stands in for DynamoDB, so the figures are
handler + Powertools + pydantic + boto3/moto overhead, not network time. Set-up requests each
mutating iteration needs (a fresh basket to delete ...) run outside the timed call.

Cold import: each handler module is imported in a fresh interpreter (what a Lambda cold start
pays before the first request), several times; the median is reported.

    .venv/bin/python bench/api.py [--iterations 100] [--imports 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGION = "ap-south-1"
PREFIX = "ql-algo-trading-bench"
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "options-api-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "OptionsBench",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "PLATFORM_ENV": "bench",
    "TRADING_TABLE_NAME": f"{PREFIX}-trading-configurations",
    "HISTORY_TABLE_NAME": f"{PREFIX}-execution-history",
    "BROKER_ACCOUNTS_TABLE_NAME": f"{PREFIX}-broker-accounts",
    "IDEMPOTENCY_TABLE_NAME": f"{PREFIX}-idempotency",
    "EVENT_BUS_NAME": f"{PREFIX}-timer-bus",
}
USER = "bench-user"
IMPORT_SNIPPET = (
    "import time; t, c = time.perf_counter(), time.process_time(); "
    "import lambda_functions.option_baskets.{module}; "
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
)
# What Powertools' Tracer alone costs (it imports the X-Ray SDK and patches botocore).
TRACER_SNIPPET = (
    "import time; t, c = time.perf_counter(), time.process_time(); "
    "from aws_lambda_powertools import Tracer; Tracer(); "
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _fresh_interpreter(snippet: str, runs: int) -> list[tuple[float, float]]:
    env = {**os.environ, **ENVIRONMENT, "PYTHONDONTWRITEBYTECODE": "1"}
    timings = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", snippet], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        wall, cpu = out.stdout.strip().splitlines()[-1].split()
        timings.append((float(wall), float(cpu)))
    return timings


def cold_imports(modules: tuple[str, ...], runs: int) -> dict[str, list[tuple[float, float]]]:
    """(wall ms, CPU ms) of importing each handler module in a fresh interpreter, `runs` times."""
    timings = {module: _fresh_interpreter(IMPORT_SNIPPET.format(module=module), runs) for module in modules}
    timings["(Powertools Tracer alone)"] = _fresh_interpreter(TRACER_SNIPPET, runs)
    return timings


class Client:
    """Calls the handlers through the catalog dispatcher with proxy events."""

    def __init__(self) -> None:
        from local_platform.dispatch import dispatch
        from shared_utils.api.wsgi import LocalContext, proxy_event

        self._dispatch = dispatch
        self._event = proxy_event
        self._context = LocalContext()

    def event(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return self._event(
            method,
            path,
            claims={"sub": USER, "cognito:groups": "traders"},
            headers={"Content-Type": "application/json"} if body is not None else {},
            query={key: [value] for key, value in (query or {}).items()},
            body=json.dumps(body) if body is not None else None,
        )

    def send(self, event: dict[str, Any]) -> tuple[int, Any]:
        result = self._dispatch(event, self._context)
        body = result.get("body")
        return int(result["statusCode"]), json.loads(body) if body else None

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, payload = self.send(self.event(method, path, body))
        if status != expect:
            raise RuntimeError(f"{method} {path}: {status} {payload}")
        return payload


def strategy_body(name: str) -> dict[str, Any]:
    from shared_utils.templates import template_legs

    return {
        "name": name,
        "underlying": "NIFTY",
        "legs": [leg.model_dump(mode="json", exclude_none=True) for leg in template_legs("IRON_CONDOR")],
        "entry": {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU"]},
        "exit": {"time": "15:15"},
    }


class Fixtures:
    """Items the timed requests work on, created through the API itself."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._counter = 0
        self._basket_with_room: str | None = None
        self._room = 0

    def name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix} {self._counter}"

    def basket(self) -> str:
        return str(self.client.call("POST", "/options/baskets", {"name": self.name("B")}, 201)["basket_id"])

    def strategy(self) -> str:
        if self._room == 0:
            self._basket_with_room, self._room = self.basket(), 10
        self._room -= 1
        path = f"/options/baskets/{self._basket_with_room}/strategies"
        return str(self.client.call("POST", path, strategy_body(self.name("S")), 201)["strategy_id"])

    def allocation(self, strategy_id: str) -> str:
        path = f"/options/strategies/{strategy_id}/brokers"
        return str(
            self.client.call("POST", path, {"broker_account_id": "acct-1", "lots": 1}, 201)["allocation_id"]
        )

    def basket_allocation(self, basket_id: str) -> str:
        path = f"/options/baskets/{basket_id}/brokers"
        return str(
            self.client.call("POST", path, {"broker_account_id": "acct-1", "lots": 1}, 201)["allocation_id"]
        )


Prepare = Callable[[int], dict[str, Any]]


def scenarios(client: Client, fx: Fixtures) -> dict[tuple[str, str], tuple[Prepare, int]]:
    """(method, route) -> (builds the i-th event, untimed; expected status)."""
    basket = fx.basket()
    strategy = fx.strategy()
    for _ in range(3):
        fx.strategy()
    fx.allocation(strategy)
    fx.basket_allocation(basket)
    put_basket, put_strategy, put_alloc, put_basket_alloc = (
        fx.basket(),
        fx.strategy(),
        fx.strategy(),
        fx.basket(),
    )
    put_alloc_id = fx.allocation(put_alloc)
    put_basket_alloc_id = fx.basket_allocation(put_basket_alloc)
    ev = client.event
    return {
        ("GET", "/options/broker-accounts"): (lambda i: ev("GET", "/options/broker-accounts"), 200),
        ("GET", "/options/strategy-templates"): (lambda i: ev("GET", "/options/strategy-templates"), 200),
        ("GET", "/options/baskets"): (lambda i: ev("GET", "/options/baskets", query={"limit": "25"}), 200),
        ("POST", "/options/baskets"): (lambda i: ev("POST", "/options/baskets", {"name": f"N{i}"}), 201),
        ("GET", "/options/baskets/{basket_id}"): (lambda i: ev("GET", f"/options/baskets/{basket}"), 200),
        ("PUT", "/options/baskets/{basket_id}"): (
            lambda i: ev("PUT", f"/options/baskets/{put_basket}", {"version": i + 1, "name": f"R{i}"}),
            200,
        ),
        ("DELETE", "/options/baskets/{basket_id}"): (
            lambda i: ev("DELETE", f"/options/baskets/{fx.basket()}"),
            204,
        ),
        ("GET", "/options/strategies"): (
            lambda i: ev("GET", "/options/strategies", query={"limit": "25"}),
            200,
        ),
        ("POST", "/options/baskets/{basket_id}/strategies"): (
            lambda i: ev("POST", f"/options/baskets/{fx.basket()}/strategies", strategy_body(f"S{i}")),
            201,
        ),
        ("GET", "/options/strategies/{strategy_id}"): (
            lambda i: ev("GET", f"/options/strategies/{strategy}"),
            200,
        ),
        ("PUT", "/options/strategies/{strategy_id}"): (
            lambda i: ev("PUT", f"/options/strategies/{put_strategy}", {"version": i + 1, "name": f"R{i}"}),
            200,
        ),
        ("DELETE", "/options/strategies/{strategy_id}"): (
            lambda i: ev("DELETE", f"/options/strategies/{fx.strategy()}"),
            204,
        ),
        ("GET", "/options/strategies/{strategy_id}/brokers"): (
            lambda i: ev("GET", f"/options/strategies/{strategy}/brokers"),
            200,
        ),
        ("POST", "/options/strategies/{strategy_id}/brokers"): (
            lambda i: ev(
                "POST",
                f"/options/strategies/{fx.strategy()}/brokers",
                {"broker_account_id": "acct-1", "lots": 2},
            ),
            201,
        ),
        ("PUT", "/options/strategies/{strategy_id}/brokers/{allocation_id}"): (
            lambda i: ev(
                "PUT",
                f"/options/strategies/{put_alloc}/brokers/{put_alloc_id}",
                {"version": i + 1, "lots": 3},
            ),
            200,
        ),
        ("DELETE", "/options/strategies/{strategy_id}/brokers/{allocation_id}"): (
            lambda i: (
                s := fx.strategy(),
                ev("DELETE", f"/options/strategies/{s}/brokers/{fx.allocation(s)}"),
            )[1],
            204,
        ),
        ("GET", "/options/baskets/{basket_id}/brokers"): (
            lambda i: ev("GET", f"/options/baskets/{basket}/brokers"),
            200,
        ),
        ("POST", "/options/baskets/{basket_id}/brokers"): (
            lambda i: ev(
                "POST", f"/options/baskets/{fx.basket()}/brokers", {"broker_account_id": "acct-1", "lots": 2}
            ),
            201,
        ),
        ("PUT", "/options/baskets/{basket_id}/brokers/{allocation_id}"): (
            lambda i: ev(
                "PUT",
                f"/options/baskets/{put_basket_alloc}/brokers/{put_basket_alloc_id}",
                {"version": i + 1, "lots": 3},
            ),
            200,
        ),
        ("DELETE", "/options/baskets/{basket_id}/brokers/{allocation_id}"): (
            lambda i: (
                b := fx.basket(),
                ev("DELETE", f"/options/baskets/{b}/brokers/{fx.basket_allocation(b)}"),
            )[1],
            204,
        ),
    }


def route_latencies(iterations: int) -> tuple[dict[tuple[str, str], list[float]], list[str]]:
    """Each route runs on fresh tables (moto answers index queries by scanning the whole table,
    so items left by other routes would distort the figures). Routes without a scenario here are
    returned by name, not timed."""
    import boto3
    from moto import mock_aws

    from shared_utils.api.catalog import API_ROUTES
    from shared_utils.clock import SystemClock
    from shared_utils.composition import Platform, install
    from shared_utils.settings import load_settings
    from shared_utils.tables import ALL_TABLES

    results: dict[tuple[str, str], list[float]] = {}
    skipped: list[str] = []
    for route in API_ROUTES:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            install(Platform(load_settings(), SystemClock(), dynamodb=dynamodb))
            for definition in ALL_TABLES:
                dynamodb.create_table(**definition.create_table_kwargs(definition.name(PREFIX)))
            accounts = boto3.resource("dynamodb", region_name=REGION).Table(
                ENVIRONMENT["BROKER_ACCOUNTS_TABLE_NAME"]
            )
            for number, broker in ((1, "ZERODHA"), (2, "UPSTOX")):
                accounts.put_item(
                    Item={"user_id": USER, "broker_account_id": f"acct-{number}", "broker": broker}
                )
            client = Client()
            plan = scenarios(client, Fixtures(client))
            if (route.method, route.path) not in plan:
                skipped.append(f"{route.method} {route.path}")
                continue
            prepare, expected = plan[(route.method, route.path)]
            client.send(prepare(-1) if route.method == "GET" else prepare(iterations))  # warm the module
            samples = []
            for i in range(iterations):
                event = prepare(i)
                started = time.perf_counter()
                status, payload = client.send(event)
                samples.append((time.perf_counter() - started) * 1000)
                if status != expected:
                    raise RuntimeError(f"{route.method} {route.path} #{i}: {status} {payload}")
            results[(route.method, route.path)] = samples
    return results, skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--imports", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(ENVIRONMENT)
    # Powertools warns once per process that these requests publish no custom metrics.
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    from shared_utils.api.catalog import modules

    print(f"API handler latency in process (moto), {args.iterations} requests per route, ms")
    print(f"{'route':<66} {'p50':>7} {'p99':>7}")
    latencies, skipped = route_latencies(args.iterations)
    for (method, path), samples in latencies.items():
        print(f"{method + ' ' + path:<66} {statistics.median(samples):7.2f} {percentile(samples, 0.99):7.2f}")
    if skipped:
        print(f"not timed here (no scenario in bench/api.py): {', '.join(skipped)}")

    print(f"\nCold import per handler module, fresh interpreter, {args.imports} runs, ms (goal <= 300)")
    print(f"{'module':<28} {'wall p50':>9} {'wall max':>9} {'cpu p50':>8}")
    for module, runs in cold_imports(modules(), args.imports).items():
        walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        print(
            f"{module:<28} {statistics.median(walls):9.1f} {max(walls):9.1f} {statistics.median(cpus):8.1f}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
