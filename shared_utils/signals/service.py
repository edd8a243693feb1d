"""A user's webhooks: created for one of their strategies, listed, rotated, deleted, and the
signals each received. The URL (`/signals/{token}`) is in the answers of `create` and `rotate`
only; what is stored is the token's hash."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Protocol

from shared_utils.clock import Clock
from shared_utils.errors import FieldIssue, InvalidInputError, NotFoundError
from shared_utils.models.strategy import Strategy
from shared_utils.models.views import Page
from shared_utils.signals import tokens
from shared_utils.signals.models import (
    SIGNAL_PATH_PREFIX,
    SignalRecord,
    Webhook,
    WebhookCreate,
    WebhookWithUrl,
)
from shared_utils.signals.store import WebhookStore

_PAGE = 100


class StrategyFinder(Protocol):
    """The caller's strategy (NotFoundError when it is missing or someone else's)."""

    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy: ...


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        strategies: StrategyFinder,
        clock: Clock,
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        new_token: Callable[[], str] = tokens.new_token,
    ) -> None:
        self._store = store
        self._strategies = strategies
        self._clock = clock
        self._new_id = new_id
        self._new_token = new_token

    def create(self, user_id: str, data: WebhookCreate) -> WebhookWithUrl:
        strategy = self._strategies.get_strategy(user_id, data.strategy_id)
        if data.leg_no is not None and data.leg_no > len(strategy.legs):
            raise InvalidInputError(
                "the strategy has no such leg",
                details=[FieldIssue("leg_no", f"the strategy has {len(strategy.legs)} leg(s)")],
            )
        token = self._new_token()
        webhook = Webhook(
            webhook_id=self._new_id(),
            user_id=user_id,
            strategy_id=strategy.strategy_id,
            action=data.action,
            leg_no=data.leg_no,
            format=data.format,
            label=data.label,
            secret_set=data.shared_secret is not None,
            secret_field=data.secret_in(),
            signal_id_field=data.signal_id_field,
            match=dict(data.match),
            rate_limit_per_minute=data.rate_limit_per_minute,
            token_hint=tokens.token_hint(token),
            version=1,
            created_at=self._clock.now(),
        )
        secret = data.shared_secret.get_secret_value() if data.shared_secret is not None else None
        self._store.create(
            webhook,
            secret_hash=tokens.hash_secret(secret) if secret is not None else None,
            token_hash=tokens.token_hash(token),
        )
        return _with_url(webhook, token)

    def list_webhooks(self, user_id: str, limit: int, next_token: str | None) -> Page[Webhook]:
        items, token = self._store.page(user_id, limit=limit, next_token=next_token)
        return Page[Webhook](items=items, next_token=token)

    def rotate(self, user_id: str, webhook_id: str) -> WebhookWithUrl:
        """A new URL; the old one answers 404 from now on."""
        token = self._new_token()
        webhook = self._store.rotate(
            user_id,
            webhook_id,
            token_hash=tokens.token_hash(token),
            token_hint=tokens.token_hint(token),
            now=self._clock.now(),
        )
        return _with_url(webhook, token)

    def delete(self, user_id: str, webhook_id: str) -> None:
        self._store.delete(user_id, webhook_id)

    def delete_for_strategies(self, user_id: str, strategy_ids: Collection[str]) -> int:
        """Delete the webhooks bound to these strategies (deleted themselves): their URLs then
        answer as unknown ones. Returns how many."""
        doomed: list[str] = []
        token: str | None = None
        while True:
            items, token = self._store.page(user_id, limit=_PAGE, next_token=token)
            doomed += [w.webhook_id for w in items if w.strategy_id in strategy_ids]
            if token is None:
                break
        for webhook_id in doomed:
            self._store.delete(user_id, webhook_id)
        return len(doomed)

    def signals(
        self, user_id: str, webhook_id: str, limit: int, next_token: str | None
    ) -> Page[SignalRecord]:
        """The webhook's signals, newest first (kept 30 days)."""
        if self._store.get(user_id, webhook_id) is None:
            raise NotFoundError("webhook not found")
        items, token = self._store.signals(webhook_id, self._clock.now(), limit=limit, next_token=next_token)
        return Page[SignalRecord](items=items, next_token=token)


def _with_url(webhook: Webhook, token: str) -> WebhookWithUrl:
    return WebhookWithUrl(**webhook.model_dump(), url_path=f"{SIGNAL_PATH_PREFIX}{token}")
