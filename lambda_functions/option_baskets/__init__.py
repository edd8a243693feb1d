"""The Lambda handler modules, one per function, each exposing `handler`.

The route and event catalogs (`shared_utils.api.catalog`, `shared_utils.events.catalog`) and the
names below say which module serves what; this is the one place that turns a module's name into
the handler path the stack deploys and into the handler the local platform calls.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The functions no route or timer event names.
EVENT_EMITTER = "event_emitter"
TIMER_STARTER = "timer_starter"
STRATEGY_EXECUTOR = "strategy_executor"
# The live feed (WebSocket API): the $connect authorizer, the $connect/$disconnect routes, and
# the broadcaster (DynamoDB streams of the history and broker-accounts tables; QuotesRefreshed).
FEED_AUTHORIZER = "feed_authorizer"
FEED_CONNECTIONS = "feed_connections"
FEED_BROADCASTER = "feed_broadcaster"
# A backtest job, invoked asynchronously by the backtests API.
BACKTEST_RUNNER = "backtest_runner"
# Notifications: the notifier (the history and broker-accounts streams -> the notification
# queue) and the sender (that queue -> Telegram and e-mail).
NOTIFIER = "notifier"
NOTIFICATION_SENDER = "notification_sender"


def handler_path(module: str) -> str:
    """The `Handler` setting of the function serving `module`."""
    return f"{__name__}.{module}.handler"


def load_handler(module: str) -> LambdaHandler:
    """The handler function Lambda would call for `module` (imports the module)."""
    handler: LambdaHandler = importlib.import_module(f"{__name__}.{module}").handler
    return handler
