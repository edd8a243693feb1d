"""A broker whose session refusal is reported once: the broker said the token is no longer
good (Kite's `TokenException`, a 401/403), so the account is marked NEEDS_LOGIN and no later
run sends anything on it until a new login. The refused call itself is not retried: a refusal
means nothing was accepted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aws_lambda_powertools import Logger

from shared_utils.brokers.models import (
    BrokerName,
    OrderRequest,
    OrderResult,
    Position,
)
from shared_utils.brokers.port import Broker, BrokerAuthError

T = TypeVar("T")
logger = Logger(child=True)


class SessionWatch:
    def __init__(self, inner: Broker, on_refused: Callable[[], None]) -> None:
        self._inner = inner
        self._on_refused = on_refused
        self._reported = False

    @property
    def name(self) -> BrokerName:
        return self._inner.name

    @property
    def inner(self) -> Broker:
        return self._inner

    def _watch(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except BrokerAuthError:
            if not self._reported:
                self._reported = True
                try:
                    self._on_refused()
                except Exception:  # the refusal must reach the engine whatever the report did
                    logger.exception("Could not mark the account NEEDS_LOGIN; its next run will try again")
            raise

    def place(self, order: OrderRequest) -> OrderResult:
        return self._watch(lambda: self._inner.place(order))

    def cancel(self, broker_order_id: str) -> OrderResult:
        return self._watch(lambda: self._inner.cancel(broker_order_id))

    def order_status(self, broker_order_id: str) -> OrderResult:
        return self._watch(lambda: self._inner.order_status(broker_order_id))

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        return self._watch(lambda: self._inner.find_order_by_tag(tag))

    def positions(self) -> list[Position]:
        return self._watch(self._inner.positions)
