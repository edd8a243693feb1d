"""What every timer-event handler does before its domain function: parse and validate the
EventBridge event (Powertools Parser), reject malformed ones without side effects, and run the
domain function at most once per (detail-type, tick) with Powertools Idempotency.

A re-emitted tick has a new EventBridge id but the same tick, so the idempotency key is built
from the envelope's detail-type and tick, never from the event id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, ValidationError

from shared_utils.clock import to_ist
from shared_utils.events.catalog import EVENT_SOURCE, DetailType
from shared_utils.timer.envelope import TimerEnvelope, TimerEventBridgeModel
from shared_utils.timer.plan import CADENCE

logger = Logger(child=True)

# Far longer than any redelivery or re-emission of a tick; the record then expires (TTL).
IDEMPOTENCY_TTL_SECONDS = 2 * 24 * 3600


class HandlerOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["processed", "rejected"]
    detail_type: str | None = None
    tick: str | None = None
    reason: str | None = None
    result: dict[str, Any] = {}


def accept(event: dict[str, Any], expected: DetailType) -> TimerEventBridgeModel | HandlerOutcome:
    """The parsed event, or a `rejected` outcome (logged) for anything this handler must not act on."""
    try:
        parsed = parse(event=event, model=TimerEventBridgeModel)
    except (ValidationError, ValueError, TypeError) as error:
        logger.error("Rejected malformed timer event", extra={"reason": str(error)})
        return HandlerOutcome(status="rejected", reason=f"malformed event: {error}")
    if parsed.source != EVENT_SOURCE or parsed.detail_type != expected.value:
        reason = f"expected {EVENT_SOURCE}/{expected.value}, got {parsed.source}/{parsed.detail_type}"
        logger.error("Rejected timer event of the wrong kind", extra={"reason": reason})
        return HandlerOutcome(status="rejected", detail_type=parsed.detail_type, reason=reason)
    return parsed


def on_time(
    envelope: TimerEnvelope, detail_type: DetailType, now: datetime, max_lag: timedelta
) -> TimerEnvelope | HandlerOutcome:
    """The envelope with its window and trade date derived from its tick (never trusted from the
    event), or a `rejected` outcome when the tick is stale (or from the future) by over `max_lag`."""
    lag = now - envelope.tick
    if abs(lag) > max_lag:
        reason = f"stale tick {envelope.tick_iso()}: handled {lag} after it (bound {max_lag})"
        logger.warning(
            "Dropped a stale timer event", extra={"detail_type": detail_type.value, "reason": reason}
        )
        return HandlerOutcome(
            status="rejected", detail_type=detail_type.value, tick=envelope.tick_iso(), reason=reason
        )
    cadence = CADENCE[detail_type]
    return envelope.model_copy(
        update={
            "trade_date": to_ist(envelope.tick).date(),
            "window_start": envelope.tick + cadence.window_start,
            "window_end": envelope.tick + cadence.window_end,
        }
    )


def once_per_tick(
    detail_type: DetailType,
    envelope: TimerEnvelope,
    work: Callable[[TimerEnvelope], BaseModel],
    persistence: BasePersistenceLayer,
    context: LambdaContext | None = None,
) -> HandlerOutcome:
    """Run `work(envelope)` once per (detail-type, tick); a repeat returns the stored result."""
    config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL_SECONDS, lambda_context=context)

    @idempotent_function(
        data_keyword_argument="tick_key",
        persistence_store=persistence,
        config=config,
        key_prefix=f"timer.{detail_type.value}",
    )
    def run_once(tick_key: dict[str, str]) -> dict[str, Any]:
        return work(envelope).model_dump(mode="json")

    result = run_once(tick_key={"detail_type": detail_type.value, "tick": envelope.tick_iso()})
    return HandlerOutcome(
        status="processed", detail_type=detail_type.value, tick=envelope.tick_iso(), result=result
    )
