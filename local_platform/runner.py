"""`run`: the DynamoDB endpoint, the HTTP API and the timer loop in one process tree."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from aws_lambda_powertools import Logger

from local_platform import console
from local_platform.api_server import OPENAPI_PATH, InvocationLock, LocalApi, TokenAuthorizer, serve
from local_platform.backend import LOOPBACK, MotoEndpoint, create_tables, dynamodb, start_moto
from local_platform.backtest_jobs import FileResultStore, ThreadJobStarter
from local_platform.clocks import AcceleratedClock, LoopClock, WallClock
from local_platform.environment import (
    REGION,
    export_client_environment,
    export_runtime_settings,
    local_settings,
)
from local_platform.feed import FEED_PATH, FeedPump, LocalFeedServer, StreamTap
from local_platform.notifications import OUTBOX_FILE, LocalNotificationQueue, LocalNotifier, MemoryOutbox
from local_platform.root import one_process_root
from local_platform.state import PlatformState, clear_state, token_secret, write_state
from local_platform.timer import Delivery, LocalPublisher, RuleRouter, TimerLoop
from shared_utils.api.openapi import DOCS_PATH
from shared_utils.clock import SystemClock, to_ist
from shared_utils.composition import install, platform
from shared_utils.settings import RuntimeSettings
from shared_utils.timer.emitter import EmitResult

logger = Logger(service="local-platform", child=False)

EXIT_USAGE = 2
HANDLER_LOG = "handlers.log"
# The API's backtest jobs' files (the `backtest` command writes its runs to backtests/ instead).
BACKTEST_JOBS_DIR = "backtest-jobs"
# Python hands the interpreter lock to another thread every 5 ms by default; with the embedded
# DynamoDB server, the run workers, the timer and the feed in one process, the feed's pump then
# waited its turn behind every busy thread (fill-to-screen p99 335 ms in bench/feed_latency.py,
# 25 ms at this interval).
SWITCH_INTERVAL_S = 0.0005


class PortInUseError(Exception):
    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} on {LOOPBACK} is already in use: stop what is using it, or choose another "
            f"port with --port N (or PORT=N make run)"
        )
        self.port = port


@dataclass
class Backend:
    """The moto endpoint with the tables, and the environment the handlers read, exported."""

    endpoint: MotoEndpoint
    settings: RuntimeSettings

    def stop(self) -> None:
        self.endpoint.stop()


def start_backend(
    log_level: str,
    clock: LoopClock,
    feed: LocalFeedServer | None = None,
    backtest_files: FileResultStore | None = None,
    notification_outbox: MemoryOutbox | None = None,
) -> Backend:
    """The moto endpoint with the tables, and this process's composition root on the timer's
    clock: the API and the handlers stamp what they write with the clock the timer runs on.
    With `feed`, the tables keep their streams and the feed's messages go to its connections;
    with `backtest_files`, the API's backtest jobs run in threads and keep their files there."""
    export_client_environment(log_level)
    endpoint = start_moto()
    speed = clock.speed if isinstance(clock, AcceleratedClock) else 1.0
    settings = local_settings(
        endpoint.url,
        timer_event_max_lag_seconds=min(3600, int(120 * speed)),
        quote_max_age_seconds=min(3600, int(90 * speed)),
        entry_max_lag_seconds=min(3600, int(120 * speed)),
    )
    client = dynamodb(endpoint.url)
    create_tables(client, settings, streams=feed is not None)
    export_runtime_settings(settings)
    # In real time the timer goes on while the queue's workers run; a faster clock must wait for
    # them, or its next minutes would pass before a run starts (an entry found late, an exit
    # priced minutes later than its tick).
    install(
        one_process_root(
            settings,
            clock,
            dynamodb=client,
            wait_for_runs=not isinstance(clock, WallClock),
            feed=feed,
            backtest_starter=ThreadJobStarter() if backtest_files is not None else None,
            backtest_results=backtest_files,
            notification_outbox=notification_outbox,
        )
    )
    return Backend(endpoint, settings)


def _print_tick(result: EmitResult) -> None:
    if result.handled_tick is None:
        console.say(f"[timer] {result.note}; next tick {to_ist(result.next_tick):%Y-%m-%d %H:%M} IST")
        return
    emitted = ", ".join(result.emitted) or "nothing"
    console.say(f"[timer] {to_ist(result.handled_tick):%H:%M} IST {result.phase}: {emitted}")


def _print_delivery(delivery: Delivery) -> None:
    if delivery.error is not None:
        console.warn(f"[timer] {delivery.module} FAILED on {delivery.detail_type}: {delivery.error}")
        return
    result = (delivery.result or {}).get("result") or {}
    for requested in result.get("requested", []) or []:
        console.say(f"[trigger] execution requested: {requested}")


def run(port: int, data_dir: Path, clock: LoopClock, log_level: str, timer: bool = True) -> int:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    secret = token_secret(data_dir)
    feed = LocalFeedServer(secret, SystemClock().now)
    backtest_files = FileResultStore(data_dir / BACKTEST_JOBS_DIR)
    outbox = MemoryOutbox(SystemClock(), data_dir / OUTBOX_FILE)
    backend = start_backend(log_level, clock, feed, backtest_files, outbox)
    handler_log = (data_dir / HANDLER_LOG).open("a", buffering=1)
    lock = InvocationLock(handler_log)
    base_url = f"http://{LOOPBACK}:{port}"
    app = LocalApi(
        TokenAuthorizer(secret),
        lock,
        base_url,
        observer=lambda method, path, status: console.say(f"[api] {method} {path} -> {status}"),
        clock=clock,
        backtest_files=backtest_files,
    )
    try:
        server = serve(app, LOOPBACK, port, feed)
    except OSError as error:
        backend.stop()
        handler_log.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(port) from None
        raise
    bound = int(server.server_address[1])
    base_url = f"http://{LOOPBACK}:{bound}"
    stop = threading.Event()
    router = RuleRouter(invoke_lock=lock.lock, stdout=handler_log)
    loop = TimerLoop(LocalPublisher(router, _print_delivery), clock, stop, _print_tick)
    timer_thread = threading.Thread(target=loop.run_forever, name="timer", daemon=True)
    notifier = LocalNotifier(stop)
    notifier_thread = threading.Thread(target=notifier.run_forever, name="notifier", daemon=True)
    notifications = platform().notification_queue
    pump = FeedPump(
        StreamTap(backend.settings.history_table_name, REGION),
        StreamTap(backend.settings.broker_accounts_table_name, REGION),
        stop,
        listeners=[notifier.offer],
    )
    pump_thread = threading.Thread(target=pump.run_forever, name="feed", daemon=True)
    state = PlatformState(
        pid=os.getpid(),
        started_at=clock.now(),
        api_url=base_url,
        api_port=bound,
        docs_url=f"{base_url}{DOCS_PATH}",
        openapi_url=f"{base_url}{OPENAPI_PATH}",
        dynamodb_endpoint=backend.endpoint.url,
        region=REGION,
        token_secret=secret,
        clock=clock.describe(),
        data_dir=str(data_dir.resolve()),
    )
    state_path = write_state(data_dir, state)
    console.say("Options platform running locally (no AWS account, no network)")
    console.say(f"  Console     {base_url}/")
    console.say(f"  API         {base_url}/options/...")
    console.say(f"  Swagger UI  {state.docs_url}")
    console.say(f"  OpenAPI     {state.openapi_url}")
    console.say(f"  Live feed   ws://{LOOPBACK}:{bound}{FEED_PATH}?token=...")
    console.say(
        f"  DynamoDB    {backend.endpoint.url} (moto; tables {backend.settings.trading_table_name}, ...)"
    )
    console.say(f"  Timer       {clock.describe() if timer else 'off'}")
    console.say(f"  State file  {state_path}")
    console.say(f"  Handler log {data_dir / HANDLER_LOG} (metrics lines, as CloudWatch would get them)")
    console.say(f"  Outbox      {data_dir / OUTBOX_FILE} (e-mail; Telegram too unless TELEGRAM_API_URL)")
    console.say("  Token       python -m local_platform token --user alice")
    console.say("Ctrl-C stops everything.")

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    # A shell's background job inherits an ignored SIGINT: Ctrl-C / kill -INT must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pump_thread.start()
    notifier_thread.start()
    if isinstance(notifications, LocalNotificationQueue):
        notifications.start()
    if timer:
        timer_thread.start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        console.say("Stopping ...")
    finally:
        stop.set()
        feed.close_all()
        server.server_close()
        if timer_thread.is_alive():
            timer_thread.join(timeout=10)
        pump_thread.join(timeout=2)
        notifier_thread.join(timeout=2)
        if isinstance(notifications, LocalNotificationQueue):
            notifications.stop()
        backend.stop()
        handler_log.close()
        clear_state(data_dir, os.getpid())
        console.say("Stopped.")
    return 0
