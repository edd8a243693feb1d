"""Notifications on this machine: what stands in for the notification queue (SQS) and for the
channels, and the notifier fed by the local stream tap.

- `LocalNotificationQueue`: deliveries as SQS-shaped messages handed to the same
  `notification_sender` handler the stack deploys, with partial batch responses; a message the
  handler pushes back (`retry_later`, its back-off) comes back after that delay, and one still
  failing after `max_receives` is kept in `dead_letters` (logged), like the deployed DLQ. A worker
  thread delivers once `start`ed (the `run` command); tests call `deliver_due` themselves.
- `MemoryOutbox`: e-mail (and Telegram, unless `TELEGRAM_API_URL` names an API: a stub, or the
  real one) is kept in memory and, for `run`, appended to `notifications.jsonl` in the data
  directory: no network.
- `LocalNotifier`: the feed pump hands it each batch of stream records without waiting; its own
  thread runs the notifier on them (settings read, deliveries queued), so the live feed never
  waits for a notification.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger

from lambda_functions.option_baskets import NOTIFICATION_SENDER, load_handler
from local_platform.run_queue import sqs_record
from local_platform.wsgi import LocalContext
from shared_utils.clock import Clock
from shared_utils.composition import platform
from shared_utils.notifications.models import Delivery

logger = Logger(child=True)

QUEUE_ARN = "arn:aws:sqs:local:000000000000:notifications"
BATCH_SIZE = 10
OUTBOX_FILE = "notifications.jsonl"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class OutboxMessage:
    channel: str
    target: str
    subject: str
    text: str
    at: datetime


class MemoryOutbox:
    """Both channels of a process that sends nothing over the network."""

    def __init__(self, clock: Clock, file: Path | None = None) -> None:
        self._clock = clock
        self._file = file
        self._lock = threading.Lock()
        self.messages: list[OutboxMessage] = []

    def _keep(self, message: OutboxMessage) -> None:
        with self._lock:
            self.messages.append(message)
            if self._file is not None:
                self._file.parent.mkdir(parents=True, exist_ok=True)
                with self._file.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({**message.__dict__, "at": message.at.isoformat()}) + "\n")

    def send_message(self, bot_token: str, chat_id: str, text: str) -> None:
        self._keep(OutboxMessage("TELEGRAM", chat_id, text.partition("\n")[0], text, self._clock.now()))

    def send_email(self, address: str, subject: str, text: str) -> None:
        self._keep(OutboxMessage("EMAIL", address, subject, text, self._clock.now()))


def _sender_handler() -> Handler:
    return load_handler(NOTIFICATION_SENDER)


@dataclass
class _Message:
    body: str
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receives: int = 0
    available_at: float = 0.0
    pushed_back: bool = False


class LocalNotificationQueue:
    def __init__(
        self,
        *,
        max_receives: int = 8,
        visibility_s: float = 1.0,
        handler: Callable[[], Handler] = _sender_handler,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_receives = max_receives
        self._visibility_s = visibility_s
        self._handler = handler
        self._now = now
        self._waiting: list[_Message] = []
        self._in_flight: dict[str, _Message] = {}
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.dead_letters: list[Delivery] = []
        self.delays: list[int] = []  # every back-off asked for, in order (what SQS would be told)

    # ------------------------------------------------------------------ NotificationQueue

    def send(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        with self._ready:
            self._waiting += [_Message(body=delivery.model_dump_json()) for delivery in deliveries]
            self._ready.notify_all()

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        with self._ready:
            message = self._in_flight.get(receipt_handle)
            if message is not None:
                message.available_at = self._now() + delay_s
                message.pushed_back = True
            self.delays.append(delay_s)

    # ------------------------------------------------------------------ delivery

    @property
    def waiting(self) -> int:
        with self._ready:
            return len(self._waiting) + len(self._in_flight)

    def queued(self) -> list[Delivery]:
        """The deliveries waiting (not in flight), in order."""
        with self._ready:
            return [Delivery.model_validate_json(message.body) for message in self._waiting]

    def next_due_in(self) -> float | None:
        """Seconds until the earliest waiting message is due (None: nothing waits)."""
        with self._ready:
            if not self._waiting:
                return None
            return max(0.0, min(message.available_at for message in self._waiting) - self._now())

    def deliver_due(self) -> int:
        """Hand every message due now to the sender handler, in batches of ten; returns how many
        were handed over."""
        handed = 0
        while True:
            with self._ready:
                now = self._now()
                due = [message for message in self._waiting if message.available_at <= now][:BATCH_SIZE]
                for message in due:
                    self._waiting.remove(message)
                    message.receives += 1
                    message.pushed_back = False
                    self._in_flight[message.message_id] = message
            if not due:
                return handed
            handed += len(due)
            failed = self._deliver(due)
            with self._ready:
                for message in due:
                    self._in_flight.pop(message.message_id, None)
                    if message.message_id not in failed:
                        continue
                    if message.receives >= self._max_receives:
                        delivery = Delivery.model_validate_json(message.body)
                        self.dead_letters.append(delivery)
                        logger.error("Notification dead-lettered", extra={"dedupe_key": delivery.dedupe_key})
                        continue
                    if not message.pushed_back:
                        message.available_at = self._now() + self._visibility_s
                    self._waiting.append(message)

    def _deliver(self, messages: list[_Message]) -> set[str]:
        event = {
            "Records": [
                {
                    **sqs_record(message.message_id, message.body, message.receives),
                    "eventSourceARN": QUEUE_ARN,
                }
                for message in messages
            ]
        }
        context = LocalContext(function_name="notification-sender-local", aws_request_id=str(uuid.uuid4()))
        try:
            response = self._handler()(event, context)
        except Exception:
            logger.exception("Notification sender failed")
            return {message.message_id for message in messages}
        return {str(failure.get("itemIdentifier")) for failure in response.get("batchItemFailures", [])}

    # ------------------------------------------------------------------ the worker of `run`

    def start(self) -> None:
        with self._ready:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._work, name="notification-sender", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            with self._ready:
                if self._stopped:
                    return
                wait = None
                if self._waiting:
                    wait = max(0.0, min(message.available_at for message in self._waiting) - self._now())
                if wait is None or wait > 0:
                    self._ready.wait(timeout=wait)
                    continue
            self.deliver_due()


class LocalNotifier:
    """The notifier's trigger on this machine: `offer` is the feed pump's listener (it never
    blocks); a thread of its own runs the notifier on what was offered."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._records: queue.Queue[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = queue.Queue()

    def offer(self, history: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> None:
        if history or accounts:
            self._records.put((history, accounts))

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                history, accounts = self._records.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                platform().notifier.changes(history, accounts)
            except Exception:
                logger.exception("Stream records not notified")
