"""The public endpoint's decision for one request on `/signals/{token}`, in this order:

1. A token of the wrong shape, or one no webhook has (never issued, rotated away, deleted): the
   plain 404 any unknown path gets; nothing is read further and nothing is recorded.
2. The minute's request count (every request on a valid URL counts): over the webhook's limit,
   429 RATE_LIMITED (recorded, up to `RECORDED_OVER_LIMIT` such requests a minute).
3. The body, read as the webhook's format says: 400 MALFORMED_BODY or FIELD_MISSING.
4. The shared secret, if the webhook has one: a wrong or missing one is answered like an unknown
   URL (404), and recorded as WRONG_SECRET for the owner to see.
5. The webhook's `match` values: another value is refused (409 NOT_MATCHED).
6. The signal's key (its id, or the body's hash) seen within the replay window: 200 REPLAYED,
   nothing queued.
7. The dispatcher's outcome: QUEUED (202, the run's name) or REFUSED (409, the reason).

Every request past step 1 is recorded with its outcome and what the sender was answered. The
answer's status for each code is in `ANSWERS`, the one place the endpoint's statuses are chosen.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.clock import Clock
from shared_utils.errors import RunsNotQueuedError
from shared_utils.models.signals import SignalCommand, SignalOutcome, SignalStatus
from shared_utils.signals import tokens
from shared_utils.signals.models import SignalReceipt, SignalRecord, Webhook
from shared_utils.signals.parsing import MalformedSignal, Mapping, ParsedSignal, parse_signal
from shared_utils.signals.store import Endpoint, WebhookStore

logger = Logger(child=True)

REPLAY_WINDOW = timedelta(minutes=10)
RECORD_TTL = timedelta(days=30)
# Requests over the limit still recorded each minute (the rest are only answered): a flood on a
# leaked URL cannot fill the owner's list.
RECORDED_OVER_LIMIT = 20

QUEUED = "QUEUED"
REPLAYED = "REPLAYED"
RATE_LIMITED = "RATE_LIMITED"
REFUSED = "REFUSED"
NOT_MATCHED = "NOT_MATCHED"
WRONG_SECRET = "WRONG_SECRET"
NOT_QUEUED = "NOT_QUEUED"
NOT_FOUND = "NOT_FOUND"

ANSWERS: dict[str, HTTPStatus] = {
    QUEUED: HTTPStatus.ACCEPTED,
    REPLAYED: HTTPStatus.OK,
    REFUSED: HTTPStatus.CONFLICT,
    NOT_MATCHED: HTTPStatus.CONFLICT,
    RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
    "MALFORMED_BODY": HTTPStatus.BAD_REQUEST,
    "FIELD_MISSING": HTTPStatus.BAD_REQUEST,
    WRONG_SECRET: HTTPStatus.NOT_FOUND,  # as an unknown URL: nothing revealed to the sender
    NOT_FOUND: HTTPStatus.NOT_FOUND,
    NOT_QUEUED: HTTPStatus.SERVICE_UNAVAILABLE,
}


class Dispatcher(Protocol):
    """The execution side's (`execution.signals.SignalDispatcher`): refuse, or queue a run."""

    def dispatch(self, command: SignalCommand) -> SignalOutcome: ...


@dataclass(frozen=True)
class SignalRequest:
    token: str
    body: bytes
    source_ip: str | None = None


@dataclass(frozen=True)
class SignalAnswer:
    """What the endpoint answers: `receipt` None is the plain 404 (nothing revealed)."""

    status: HTTPStatus
    receipt: SignalReceipt | None
    retry_after_s: int | None = None


def new_signal_id(now: datetime) -> str:
    """Starts with the instant (UTC), so the records of a webhook sort by time."""
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


NOT_FOUND_ANSWER = SignalAnswer(HTTPStatus.NOT_FOUND, None)


@dataclass(frozen=True)
class Windows:
    replay: timedelta = REPLAY_WINDOW  # the same signal key again within it is ignored
    record_ttl: timedelta = RECORD_TTL  # how long a signal's record is listed


class SignalReceiver:
    def __init__(
        self, store: WebhookStore, dispatcher: Dispatcher, clock: Clock, windows: Windows | None = None
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._clock = clock
        self._windows = windows or Windows()

    def receive(self, request: SignalRequest) -> SignalAnswer:
        if not tokens.is_token(request.token):
            return NOT_FOUND_ANSWER
        endpoint = self._store.by_token(tokens.token_hash(request.token))
        if endpoint is None:
            return NOT_FOUND_ANSWER
        return _Request(
            self._store, self._dispatcher, self._windows, endpoint, request, self._clock.now()
        ).decide()


class _Request:
    """One request on a valid URL: decided, recorded and answered."""

    def __init__(
        self,
        store: WebhookStore,
        dispatcher: Dispatcher,
        windows: Windows,
        endpoint: Endpoint,
        request: SignalRequest,
        now: datetime,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._windows = windows
        self._endpoint = endpoint
        self._webhook: Webhook = endpoint.webhook
        self._request = request
        self._now = now
        self._signal_id = new_signal_id(now)
        self._parsed: ParsedSignal | None = None

    def decide(self) -> SignalAnswer:
        webhook = self._webhook
        count = self._store.count_request(webhook.webhook_id, self._now)
        if count > webhook.rate_limit_per_minute:
            retry_after = 60 - self._now.second
            message = f"more than {webhook.rate_limit_per_minute} requests this minute: ignored"
            if count > webhook.rate_limit_per_minute + RECORDED_OVER_LIMIT:
                return self._answer(
                    SignalStatus.RATE_LIMITED, RATE_LIMITED, message, retry_after_s=retry_after
                )
            return self._recorded(SignalStatus.RATE_LIMITED, RATE_LIMITED, message, retry_after_s=retry_after)
        mapping = Mapping(
            format=webhook.format,
            signal_id_field=webhook.signal_id_field,
            secret_field=webhook.secret_field if self._endpoint.secret_hash else None,
            match=webhook.match,
        )
        try:
            self._parsed = parsed = parse_signal(self._request.body, mapping)
        except MalformedSignal as error:
            return self._recorded(SignalStatus.REFUSED, error.code, error.message, field=error.field)
        if self._endpoint.secret_hash is not None and not tokens.secret_matches(
            parsed.value(mapping.secret_field or "") or "", self._endpoint.secret_hash
        ):
            return self._recorded(
                SignalStatus.REFUSED, WRONG_SECRET, "the shared secret is not the webhook's"
            )
        for name, wanted in webhook.match.items():
            found = parsed.value(name) or ""
            if found.strip().casefold() != wanted.strip().casefold():
                return self._recorded(
                    SignalStatus.REFUSED,
                    NOT_MATCHED,
                    f"{name} is {found[:64]!r}, not {wanted!r}: not acted on",
                )
        if not self._store.claim_signal(
            webhook.webhook_id, parsed.signal_key, self._now, self._windows.replay
        ):
            minutes = int(self._windows.replay.total_seconds() // 60)
            return self._recorded(
                SignalStatus.REPLAYED, REPLAYED, f"the same signal arrived within {minutes} minutes: ignored"
            )
        return self._dispatch(parsed)

    def _dispatch(self, parsed: ParsedSignal) -> SignalAnswer:
        webhook = self._webhook
        command = SignalCommand(
            user_id=webhook.user_id,
            strategy_id=webhook.strategy_id,
            webhook_id=webhook.webhook_id,
            action=webhook.action,
            leg_no=webhook.leg_no,
            received_at=self._now,
            signal_key=parsed.signal_key,
        )
        try:
            outcome = self._dispatcher.dispatch(command)
        except RunsNotQueuedError:
            self._store.release_signal(webhook.webhook_id, parsed.signal_key)
            return self._recorded(
                SignalStatus.REFUSED,
                NOT_QUEUED,
                "the signal could not be queued: send it again",
                retry_after_s=1,
            )
        except Exception:
            self._store.release_signal(webhook.webhook_id, parsed.signal_key)
            raise
        if outcome.status is SignalStatus.QUEUED:
            return self._recorded(
                SignalStatus.QUEUED, QUEUED, f"queued as run {outcome.run_name}", run_name=outcome.run_name
            )
        return self._recorded(outcome.status, outcome.status.value, outcome.reason or "refused")

    def _recorded(
        self,
        status: SignalStatus,
        code: str,
        message: str,
        *,
        run_name: str | None = None,
        field: str | None = None,
        retry_after_s: int | None = None,
    ) -> SignalAnswer:
        answer = self._answer(
            status, code, message, run_name=run_name, field=field, retry_after_s=retry_after_s
        )
        webhook, parsed = self._webhook, self._parsed
        record = SignalRecord(
            signal_id=self._signal_id,
            webhook_id=webhook.webhook_id,
            strategy_id=webhook.strategy_id,
            action=webhook.action,
            leg_no=webhook.leg_no,
            received_at=self._now,
            status=status,
            code=code,
            http_status=int(answer.status),
            reason=None if status is SignalStatus.QUEUED else message,
            run_name=run_name,
            signal_key=_short_key(parsed.signal_key) if parsed is not None else None,
            summary=parsed.summary if parsed is not None else {},
            source_ip=self._request.source_ip,
        )
        self._store.record(record, self._now + self._windows.record_ttl)
        logger.info(
            "Signal received",
            extra={
                "webhook_id": webhook.webhook_id,
                "signal_id": self._signal_id,
                "code": code,
                "run": run_name,
            },
        )
        return answer

    def _answer(
        self,
        status: SignalStatus,
        code: str,
        message: str,
        *,
        run_name: str | None = None,
        field: str | None = None,
        retry_after_s: int | None = None,
    ) -> SignalAnswer:
        http_status = ANSWERS[code]
        if http_status is HTTPStatus.NOT_FOUND:
            return NOT_FOUND_ANSWER
        receipt = SignalReceipt(
            code=code,
            message=message,
            status=status,
            signal_id=self._signal_id,
            run_name=run_name,
            field=field,
        )
        return SignalAnswer(http_status, receipt, retry_after_s)


def _short_key(signal_key: str) -> str:
    """A body hash shortened for the list (the full key lives on the replay mark)."""
    return signal_key[:23] + "…" if signal_key.startswith("sha256:") else signal_key[:128]
