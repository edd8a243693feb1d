"""Fill-to-screen latency of the live feed on the local platform (goal: p99 < 100 ms).

The local platform's own parts, in this process: the embedded DynamoDB server (moto, with the
tables' streams), the HTTP server with its `/feed` WebSocket, the stream pump and the broadcaster,
the timer loop and every handler. A replay clock runs a session in which iron condors enter and
exit on paper accounts (the load bench's seeding), and headless Chromium (Debian's, off the
network) holds one feed connection per user.

Measured per filled order: from the moment its FILLED ledger write reached the table (the stream
record appended, wall clock, in this process) to the `order` message's arrival in the page's
`onmessage` (the page's wall clock, `performance.timeOrigin + performance.now()`): the stream,
the pump, the broadcaster's connection lookup, the WebSocket frame and the browser's parsing.
Two runs side by side: the session replayed flat out (every minute's fills in bursts, every
thread busy) and paced (a pause after each minute, the machine idle between them as in a live
session).

    .venv/bin/python bench/feed_latency.py          # 20 strategies (2 users), 40 ticks, flat out and paced
    .venv/bin/python bench/feed_latency.py --strategies 50 --ticks 60 --pause 1
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import FULL_SESSION_TICKS, TRADE_DATE, Figures, _quiet_environment, _seed  # noqa: E402

# Collects every feed frame with its arrival time; one socket per user.
_LISTEN = """
([url, tokens]) => new Promise((resolve, reject) => {
  window.arrivals = [];
  let open = 0;
  for (const token of tokens) {
    const socket = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    socket.onmessage = (event) => {
      const arrived = performance.timeOrigin + performance.now();
      const message = JSON.parse(event.data);
      const data = message.data;
      window.arrivals.push([arrived, message.type, data.order_key || null, data.status || null]);
    };
    socket.onopen = () => { open += 1; if (open === tokens.length) resolve(open); };
    socket.onerror = () => reject(new Error("feed connection failed"));
  }
})
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_session(
    figures: Figures, settings: Any, client: Any, clock: Any, ticks: int, strategies: int, pause: float
) -> None:
    """The load bench's session (its seeding, the timer loop on a replay clock), with `pause`
    real seconds after each tick: 0 replays flat out (the fills of many strategies in bursts,
    every thread busy), a pause leaves the machine idle between minutes as a live session does."""
    from local_platform.clocks import ReplayClock
    from local_platform.timer import Delivery, LocalPublisher, RuleRouter, TimerLoop
    from shared_utils.timer.calendar_view import CalendarMarketView

    session_start, _close = CalendarMarketView.default().session_bounds(TRADE_DATE)
    offset = timedelta(0) if ticks >= FULL_SESSION_TICKS else timedelta(minutes=15)
    first_tick = (session_start + offset).astimezone(UTC)
    clock.set(first_tick - timedelta(minutes=30))
    _seed(settings, client, strategies, ticks, first_tick)

    def observe(delivery: Delivery) -> None:
        if delivery.error is not None:
            figures.handler_errors.append(f"{delivery.module}: {delivery.error}")

    loop = TimerLoop(LocalPublisher(RuleRouter(), observe), ReplayClock(first_tick, clock))

    def tick(_result: Any) -> None:
        figures.ticks += 1
        if figures.ticks >= ticks:
            loop.stop.set()
        elif pause:
            time.sleep(pause)

    loop.on_tick = tick
    started = time.perf_counter()
    loop.run_session(first_tick)
    figures.session_wall_s = time.perf_counter() - started


def run(strategies: int, ticks: int, pause: float) -> dict[str, Any]:
    from moto.dynamodb.models import table as moto_table

    from local_platform.api_server import InvocationLock, LocalApi, TokenAuthorizer, serve
    from local_platform.backend import LOOPBACK, create_tables, dynamodb, start_moto
    from local_platform.environment import REGION, export_runtime_settings, local_settings
    from local_platform.feed import FEED_PATH, FeedPump, LocalFeedServer, StreamTap
    from local_platform.identity import LocalUser, issue_token, new_secret
    from local_platform.root import one_process_root
    from local_platform.runner import SWITCH_INTERVAL_S
    from shared_utils.clock import FixedClock, SystemClock
    from shared_utils.composition import install
    from tests.e2e.browser import chromium

    _quiet_environment()
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as `python -m local_platform run` sets it
    endpoint = start_moto()
    settings = local_settings(endpoint.url, timer_event_max_lag_seconds=3600, quote_max_age_seconds=3600)
    create_tables(dynamodb(endpoint.url), settings, streams=True)
    export_runtime_settings(settings)
    secret = new_secret()
    feed = LocalFeedServer(secret, SystemClock().now)
    clock = FixedClock(datetime.combine(TRADE_DATE, datetime.min.time(), tzinfo=UTC))
    client = dynamodb(endpoint.url)
    root = one_process_root(settings, clock, dynamodb=client, wait_for_runs=True, feed=feed)
    install(root)
    server = serve(LocalApi(TokenAuthorizer(secret), InvocationLock(), "http://127.0.0.1"), LOOPBACK, 0, feed)
    port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    stop = threading.Event()
    pump = FeedPump(
        StreamTap(settings.history_table_name, REGION),
        StreamTap(settings.broker_accounts_table_name, REGION),
        stop,
    )
    threading.Thread(target=pump.run_forever, daemon=True).start()
    # The fill's instant: its FILLED ledger write reaching the table (the stream record appended).
    stored: dict[str, float] = {}
    original = moto_table.StreamShard.add

    def add(shard: Any, old: Any, new: Any) -> None:
        at = time.time()
        attributes = new.to_json()["Attributes"] if new is not None else {}
        if (
            attributes.get("entity", {}).get("S") == "LEDGER"
            and attributes.get("status", {}).get("S") == "FILLED"
        ):
            stored.setdefault(attributes["order_key"]["S"], at)
        original(shard, old, new)

    moto_table.StreamShard.add = add  # type: ignore[method-assign]
    # When the broadcaster handed the message to the socket: splits the figure in two.
    sent: dict[str, float] = {}
    send = feed.send

    def timed_send(connection_id: str, payload: bytes) -> None:
        if b'"type":"order"' in payload and b'"status":"FILLED"' in payload:
            sent.setdefault(json.loads(payload)["data"]["order_key"], time.time())
        send(connection_id, payload)

    feed.send = timed_send  # type: ignore[method-assign]
    users = [f"load-user-{n:04d}" for n in range((strategies + 9) // 10)]
    now = datetime.now(UTC)
    tokens = [issue_token(LocalUser(user_id=user), secret, now) for user in users]
    figures = Figures()
    try:
        with tempfile.TemporaryDirectory() as profile, chromium(Path(profile)) as context:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/config.json")
            page.evaluate(_LISTEN, [f"ws://127.0.0.1:{port}{FEED_PATH}", tokens])
            with redirect_stdout(io.StringIO()):
                run_session(figures, settings, client, clock, ticks, strategies, pause)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                arrivals = page.evaluate("window.arrivals")
                filled = {key for _, kind, key, status in arrivals if kind == "order" and status == "FILLED"}
                if stored and set(stored) <= filled:
                    break
                time.sleep(0.2)
    finally:
        stop.set()
        feed.close_all()
        server.shutdown()
        # The embedded server's state lives in this process: the next run starts from nothing.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint.url}/moto-api/reset", method="POST"))
        endpoint.stop()
        install(None)
        moto_table.StreamShard.add = original  # type: ignore[method-assign]
    first_arrival: dict[str, float] = {}
    for arrived, kind, key, status in arrivals:
        if kind == "order" and status == "FILLED":
            first_arrival.setdefault(key, arrived / 1000)
    latencies = [(first_arrival[key] - at) * 1000 for key, at in stored.items() if key in first_arrival]
    to_socket = [(sent[key] - at) * 1000 for key, at in stored.items() if key in sent]
    to_page = [(first_arrival[key] - sent[key]) * 1000 for key in sent if key in first_arrival]
    kinds: dict[str, int] = {}
    for _, kind, _, _ in arrivals:
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "pause_s": pause,
        "strategies": strategies,
        "users": len(users),
        "ticks": figures.ticks,
        "session_wall_s": round(figures.session_wall_s, 1),
        "fills": len(stored),
        "fills_seen": len(latencies),
        "messages": kinds,
        "handler_errors": figures.handler_errors[:5],
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p90_ms": round(percentile(latencies, 90), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "stored_to_socket_p50_p99_ms": [round(percentile(to_socket, p), 1) for p in (50, 99)]
        if to_socket
        else None,
        "socket_to_page_p50_p99_ms": [round(percentile(to_page, p), 1) for p in (50, 99)]
        if to_page
        else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=40)
    parser.add_argument(
        "--pause",
        type=float,
        action="append",
        help="real seconds between ticks (repeatable; default 0 and 0.5)",
    )
    args = parser.parse_args()
    results = [run(args.strategies, args.ticks, pause) for pause in (args.pause or [0.0, 0.5])]
    print(json.dumps(results, indent=2))
    for result in results:
        print(
            f"pause {result['pause_s']} s/tick: {result['fills_seen']}/{result['fills']} fills seen, "
            f"fill-to-screen p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms (goal < 100 ms), "
            f"max {result['max_ms']} ms; stored->socket p50/p99 {result['stored_to_socket_p50_p99_ms']} ms, "
            f"socket->page {result['socket_to_page_p50_p99_ms']} ms"
        )
    complete = all(r["fills"] and r["fills_seen"] == r["fills"] and not r["handler_errors"] for r in results)
    return 0 if complete else 1


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    sys.exit(main())
