"""REST API latency per route (in process, moto DynamoDB) and cold import time per handler module.

Latency: each route's Lambda handler is called with API Gateway proxy events exactly as in
production (through the catalog dispatcher); moto stands in for DynamoDB, so the figures are
handler + Powertools + pydantic + boto3/moto overhead, not network time. Set-up requests each
mutating iteration needs (a fresh basket to delete ...) run outside the timed call.

Cold import: every handler module in lambda_functions/option_baskets (API, timer and executor
handlers) is imported in a fresh interpreter, what a Lambda cold start pays before the first
request: one warm-up run (it writes the bytecode cache, as the layer ships compiled), then the
median of several runs, next to the floor every handler pays (boto3 + pydantic + Powertools'
REST resolver). Tracing is off here, as outside Lambda; the last row times Powertools' Tracer
alone with tracing on, what each function loads in Lambda (active tracing) on top.

    .venv/bin/python bench/api.py [--iterations 100] [--imports 7] [--imports-only]
"""

from __future__ import annotations

import argparse
import json
import os
import pkgutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
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
HANDLER_PACKAGE = "lambda_functions.option_baskets"
# Each snippet prints its wall ms, CPU ms, how many modules it added to sys.modules and whether
# boto3 is among them (a handler whose import does not load it pays for it on its first request).
_TIMED = (
    "import sys, time; n = len(sys.modules); t, c = time.perf_counter(), time.process_time(); "
    "{code}; "
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, len(sys.modules) - n, "
    "int('boto3' in sys.modules))"
)
IMPORT_SNIPPET = _TIMED.format(code=f"import {HANDLER_PACKAGE}.{{module}}")
# What every handler pays whatever it does: boto3, Powertools' REST resolver and pydantic with
# one model built (`import pydantic` alone loads little: the first model loads its internals).
FLOOR = "(floor: boto3 + pydantic + resolver)"
FLOOR_SNIPPET = _TIMED.format(
    code="import boto3, pydantic; from aws_lambda_powertools.event_handler import APIGatewayRestResolver; "
    "APIGatewayRestResolver(enable_validation=True); "
    "type('Probe', (pydantic.BaseModel,), {'__annotations__': {'x': int}})"
)
# What tracing adds where it is on (in Lambda): Powertools' Tracer builds the X-Ray recorder
# (a botocore session and client) and patches every supported library.
TRACING = "(Tracer, tracing on as in Lambda)"
TRACING_SNIPPET = _TIMED.format(code="from aws_lambda_powertools import Tracer; Tracer(disabled=False)")


@dataclass(frozen=True)
class ImportRun:
    wall_ms: float
    cpu_ms: float
    modules: int
    boto3: bool


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def handler_modules() -> tuple[str, ...]:
    """Every handler module under lambda_functions/option_baskets, by name."""
    package = ROOT / Path(*HANDLER_PACKAGE.split("."))
    return tuple(sorted(info.name for info in pkgutil.iter_modules([str(package)]) if not info.ispkg))


def _interpreter_environment() -> dict[str, str]:
    """The bench's settings, with bytecode written and read as in a deployed layer: without
    PYTHONDONTWRITEBYTECODE every run but the warm-up would compile every module again."""
    env = {**os.environ, **ENVIRONMENT}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "options-bench-pycache"))
    return env


def _fresh_interpreter(snippet: str, runs: int) -> list[ImportRun]:
    env = _interpreter_environment()
    timings = []
    for _ in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", snippet], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        wall, cpu, modules, boto3 = out.stdout.strip().splitlines()[-1].split()
        timings.append(ImportRun(float(wall), float(cpu), int(modules), boto3 == "1"))
    return timings[1:]  # the first run compiled the bytecode


def cold_imports(modules: tuple[str, ...], runs: int) -> dict[str, list[ImportRun]]:
    """Each handler module imported in `runs` fresh interpreters (after a warm-up run), then the
    floor and what tracing adds, measured the same way."""
    timings = {module: _fresh_interpreter(IMPORT_SNIPPET.format(module=module), runs) for module in modules}
    timings[FLOOR] = _fresh_interpreter(FLOOR_SNIPPET, runs)
    timings[TRACING] = _fresh_interpreter(TRACING_SNIPPET, runs)
    return timings


def print_cold_imports(runs: int) -> None:
    print(f"Cold import per handler module, fresh interpreter, median of {runs} runs, ms (goal <= 300)")
    timings = cold_imports(handler_modules(), runs)
    floor = statistics.median(run.wall_ms for run in timings[FLOOR])
    header = f"{'module':<36} {'wall p50':>9} {'wall max':>9} {'cpu p50':>8} {'modules':>8} {'boto3':>6}"
    print(f"{header} {'floor':>7}")
    for module, samples in timings.items():
        walls = [run.wall_ms for run in samples]
        cpu = statistics.median(run.cpu_ms for run in samples)
        count = statistics.median_low(run.modules for run in samples)
        boto3 = "yes" if samples[-1].boto3 else "later"
        print(
            f"{module:<36} {statistics.median(walls):9.1f} {max(walls):9.1f} {cpu:8.1f} {count:8d} {boto3:>6}"
            f" {floor:7.1f}"
        )
    print("boto3 'later': the import does not load it; the first request does (every request uses AWS).")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


class Client:
    """Calls the handlers through the catalog dispatcher with proxy events."""

    def __init__(self) -> None:
        from local_platform.dispatch import dispatch
        from local_platform.wsgi import LocalContext, proxy_event

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
    parser.add_argument("--imports", type=int, default=7, help="fresh interpreters per module")
    parser.add_argument("--imports-only", action="store_true", help="only the cold-import figures")
    args = parser.parse_args()
    os.environ.update(ENVIRONMENT)

    if not args.imports_only:
        print(f"API handler latency in process (moto), {args.iterations} requests per route, ms")
        print(f"{'route':<66} {'p50':>7} {'p99':>7}")
        latencies, skipped = route_latencies(args.iterations)
        for (method, path), samples in latencies.items():
            p50, p99 = statistics.median(samples), percentile(samples, 0.99)
            print(f"{method + ' ' + path:<66} {p50:7.2f} {p99:7.2f}")
        if skipped:
            print(f"not timed here (no scenario in bench/api.py): {', '.join(skipped)}")
        print()
    print_cold_imports(args.imports)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
