"""The master timer on this machine: the same emitter domain (`emit_tick`) in a loop, with a
publisher that routes every event to the handler module whose EventBridge rule pattern matches
it (`rule_pattern` / `matches`, exactly as the stack's rules) and invokes its `handler`.

A handler that raises is logged with its event and the loop goes on, as EventBridge would carry
on delivering the next events (its retries and DLQ are the deployed platform's business).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext, redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from aws_lambda_powertools import Logger

from lambda_functions.option_baskets import LambdaHandler, load_handler
from local_platform.clocks import LoopClock
from local_platform.environment import REGION
from local_platform.wsgi import LocalContext
from shared_utils.clock import to_ist, utc_iso
from shared_utils.composition import installed, platform
from shared_utils.errors import ConfigurationError
from shared_utils.events.catalog import EVENT_SOURCE, HANDLER_MODULES, matches, rule_pattern
from shared_utils.timer.calendar_view import CalendarMarketView
from shared_utils.timer.emitter import EmitResult, TimerState, emit_tick
from shared_utils.timer.envelope import TimerEvent

logger = Logger(service="local-platform", child=False)

LOCAL_ACCOUNT = "000000000000"


def handler_output(sink: TextIO | None) -> AbstractContextManager[Any]:
    """Where a handler's stdout goes (its CloudWatch log when deployed): the metrics' EMF lines
    land in the data directory's log instead of between the console lines."""
    return nullcontext() if sink is None else redirect_stdout(sink)


@dataclass(frozen=True)
class Route:
    """One EventBridge rule: its pattern and the handler module it targets."""

    pattern: dict[str, Any]
    module: str


def rules() -> list[Route]:
    """The rules the stack deploys, one per detail-type, built from the same catalog."""
    return [Route(rule_pattern(detail_type), module) for detail_type, module in HANDLER_MODULES.items()]


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one event to one handler."""

    event: dict[str, Any]
    module: str
    result: dict[str, Any] | None
    error: str | None = None

    @property
    def detail_type(self) -> str:
        return str(self.event.get("detail-type"))

    @property
    def phase(self) -> str:
        return str(self.event.get("detail", {}).get("phase"))


DeliveryObserver = Callable[[Delivery], None]


def eventbridge_event(event: TimerEvent) -> dict[str, Any]:
    """The event as EventBridge hands it to a rule's Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.detail_type.value,
        "source": EVENT_SOURCE,
        "account": LOCAL_ACCOUNT,
        "time": utc_iso(event.envelope.tick),
        "region": REGION,
        "resources": [],
        "detail": json.loads(event.to_entry("local")["Detail"]),
    }


class RuleRouter:
    """Delivers an event to every rule target whose pattern matches it (EventBridge fan-out)."""

    def __init__(
        self,
        routes: Sequence[Route] | None = None,
        invoke_lock: threading.Lock | None = None,
        handlers: dict[str, LambdaHandler] | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self._routes = list(routes if routes is not None else rules())
        self._stdout = stdout
        self._lock = invoke_lock or threading.Lock()
        self._handlers: dict[str, LambdaHandler] = dict(handlers or {})

    def _handler(self, module: str) -> LambdaHandler:
        handler = self._handlers.get(module)
        if handler is None:
            handler = load_handler(module)
            self._handlers[module] = handler
        return handler

    def deliver(self, event: dict[str, Any]) -> list[Delivery]:
        deliveries = []
        for route in self._routes:
            if not matches(route.pattern, event):
                continue
            context = LocalContext(function_name=route.module, aws_request_id=str(uuid.uuid4()))
            try:
                with self._lock, handler_output(self._stdout):
                    result = self._handler(route.module)(event, context)
            except Exception as error:
                logger.exception(
                    "Timer handler failed", extra={"handler": route.module, "timer_event": event}
                )
                deliveries.append(Delivery(event, route.module, None, f"{type(error).__name__}: {error}"))
                continue
            deliveries.append(Delivery(event, route.module, result))
        if not deliveries:
            logger.warning("No rule matched the event", extra={"timer_event": event})
        return deliveries


class FollowUps:
    """The `EventPublisher` a handler publishes to in a one-process root (QuotesRefreshed after
    the market-data refresh): events wait here until the local publisher delivering the current
    event takes them, as EventBridge would deliver them after the publishing handler returned."""

    def __init__(self) -> None:
        self._events: list[TimerEvent] = []
        self._lock = threading.Lock()

    def publish(self, events: Sequence[TimerEvent]) -> int:
        with self._lock:
            self._events.extend(events)
        return len(events)

    def take(self) -> list[TimerEvent]:
        with self._lock:
            taken, self._events = self._events, []
        return taken


class LocalPublisher:
    """The emitter's `EventPublisher` port, delivering in process instead of to EventBridge; what
    the handlers publish meanwhile is delivered after them."""

    def __init__(self, router: RuleRouter, observer: DeliveryObserver | None = None) -> None:
        self._router = router
        self._observer = observer

    def publish(self, events: Sequence[TimerEvent]) -> int:
        pending = list(events)
        while pending:
            for delivery in self._router.deliver(eventbridge_event(pending.pop(0))):
                if self._observer is not None:
                    self._observer(delivery)
            root = installed()
            follow_ups = root.announcer if root is not None else None
            if isinstance(follow_ups, FollowUps):
                pending.extend(follow_ups.take())
        return len(events)


TickObserver = Callable[[EmitResult], None]


def _platform_market() -> CalendarMarketView:
    return platform().market_view()


@dataclass
class TimerLoop:
    """Emit -> (continue?) -> wait on the next absolute boundary -> Emit ..., like the state machine.

    The market view is asked for at every tick, as the deployed emitter does, so a calendar change
    made by an admin takes effect at the next tick."""

    publisher: LocalPublisher
    clock: LoopClock
    stop: threading.Event = field(default_factory=threading.Event)
    on_tick: TickObserver | None = None
    market: Callable[[], CalendarMarketView] = _platform_market

    def run_session(self, start: datetime) -> list[EmitResult]:
        """Run the loop from `start` until the day's loop ends (or `stop` is set)."""
        results: list[EmitResult] = []
        state = TimerState(next_tick=start)
        while self.clock.wait_until(state.next_tick, self.stop):
            result = emit_tick(state, self.market(), self.publisher, self.clock)
            results.append(result)
            if self.on_tick is not None:
                self.on_tick(result)
            if not result.continue_:
                break
            state = TimerState.model_validate(result.to_state())
        return results

    def run_forever(self) -> None:
        """Today's session (or what is left of it), then each next trading day's, until stopped."""
        start = self.clock.now()
        while not self.stop.is_set():
            self.run_session(start)
            if self.stop.is_set():
                return
            today = to_ist(self.clock.now()).date()
            try:
                market = self.market()
                start = market.session_bounds(market.next_session_day(today))[0]
            except (ConfigurationError, ValueError) as error:
                logger.error("Timer stops: no calendar beyond today", extra={"reason": str(error)})
                return
