"""Every route of the REST API and the handler module that serves it.

The CDK stack builds one API Gateway method per record and one Lambda function per `module`
(a module name under `lambda_functions/option_baskets`); each handler module includes exactly
the routers that serve its routes, and a test checks the two agree. Every path is written here
only: a router registers its handler by the route's `operation` (`api.routing.route`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    module: str
    operation: str  # the OpenAPI operationId; the router registers its handler by it


BROKER_ACCOUNTS = "broker_accounts"
BASKET_MANAGER = "basket_manager"
STRATEGY_MANAGER = "strategy_manager"
STRATEGY_BROKER_ALLOCATOR = "strategy_broker_allocator"
STRATEGY_TEMPLATES = "strategy_templates"
EXECUTION_HISTORY = "execution_history"
KILL_SWITCH = "kill_switch"
MARKETPLACE = "marketplace"
SUBSCRIPTIONS = "subscriptions"
MARKET_CALENDAR = "market_calendar"
BACKTESTS = "backtests"
SIGNAL_WEBHOOK = "signal_webhook"

# Linking accounts and their logins: served here in standalone mode; in cross-stack mode the auth
# stack owns the accounts and their broker logins, and these are not deployed.
LINKING_ROUTES = (
    ApiRoute("POST", "/options/broker-accounts", BROKER_ACCOUNTS, "linkBrokerAccount"),
    ApiRoute(
        "POST", "/options/broker-accounts/{broker_account_id}/login", BROKER_ACCOUNTS, "loginBrokerAccount"
    ),
    ApiRoute(
        "POST", "/options/broker-accounts/{broker_account_id}/session", BROKER_ACCOUNTS, "completeBrokerLogin"
    ),
)
API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("GET", "/options/broker-accounts", BROKER_ACCOUNTS, "listBrokerAccounts"),
    *LINKING_ROUTES,
    ApiRoute("GET", "/options/strategy-templates", STRATEGY_TEMPLATES, "listStrategyTemplates"),
    ApiRoute("GET", "/options/baskets", BASKET_MANAGER, "listBaskets"),
    ApiRoute("POST", "/options/baskets", BASKET_MANAGER, "createBasket"),
    ApiRoute("GET", "/options/baskets/{basket_id}", BASKET_MANAGER, "getBasket"),
    ApiRoute("PUT", "/options/baskets/{basket_id}", BASKET_MANAGER, "updateBasket"),
    ApiRoute("DELETE", "/options/baskets/{basket_id}", BASKET_MANAGER, "deleteBasket"),
    # The user's portfolio rules across every basket (a basket's own are on the basket).
    ApiRoute("GET", "/options/risk-settings", BASKET_MANAGER, "getRiskSettings"),
    ApiRoute("PUT", "/options/risk-settings", BASKET_MANAGER, "updateRiskSettings"),
    # The user's notification preferences, beside the portfolio rules: a function of their own
    # would cost seven of the stack's 500 resources (docs/notifications.md).
    ApiRoute("GET", "/options/notification-settings", BASKET_MANAGER, "getNotificationSettings"),
    ApiRoute("PUT", "/options/notification-settings", BASKET_MANAGER, "updateNotificationSettings"),
    ApiRoute("POST", "/options/notification-settings/test", BASKET_MANAGER, "testNotificationSettings"),
    ApiRoute("GET", "/options/strategies", STRATEGY_MANAGER, "listStrategies"),
    ApiRoute("POST", "/options/baskets/{basket_id}/strategies", STRATEGY_MANAGER, "createStrategy"),
    ApiRoute("GET", "/options/strategies/{strategy_id}", STRATEGY_MANAGER, "getStrategy"),
    ApiRoute("PUT", "/options/strategies/{strategy_id}", STRATEGY_MANAGER, "updateStrategy"),
    ApiRoute("DELETE", "/options/strategies/{strategy_id}", STRATEGY_MANAGER, "deleteStrategy"),
    # A draft priced on the market now (legs as an entry would resolve them, payoff, Greeks); stores nothing.
    ApiRoute("POST", "/options/strategy-preview", STRATEGY_MANAGER, "previewStrategy"),
    ApiRoute(
        "GET",
        "/options/strategies/{strategy_id}/brokers",
        STRATEGY_BROKER_ALLOCATOR,
        "listStrategyAllocations",
    ),
    ApiRoute(
        "POST",
        "/options/strategies/{strategy_id}/brokers",
        STRATEGY_BROKER_ALLOCATOR,
        "createStrategyAllocation",
    ),
    ApiRoute(
        "PUT",
        "/options/strategies/{strategy_id}/brokers/{allocation_id}",
        STRATEGY_BROKER_ALLOCATOR,
        "updateStrategyAllocation",
    ),
    ApiRoute(
        "DELETE",
        "/options/strategies/{strategy_id}/brokers/{allocation_id}",
        STRATEGY_BROKER_ALLOCATOR,
        "deleteStrategyAllocation",
    ),
    ApiRoute(
        "GET", "/options/baskets/{basket_id}/brokers", STRATEGY_BROKER_ALLOCATOR, "listBasketAllocations"
    ),
    ApiRoute(
        "POST", "/options/baskets/{basket_id}/brokers", STRATEGY_BROKER_ALLOCATOR, "createBasketAllocation"
    ),
    ApiRoute(
        "PUT",
        "/options/baskets/{basket_id}/brokers/{allocation_id}",
        STRATEGY_BROKER_ALLOCATOR,
        "updateBasketAllocation",
    ),
    ApiRoute(
        "DELETE",
        "/options/baskets/{basket_id}/brokers/{allocation_id}",
        STRATEGY_BROKER_ALLOCATOR,
        "deleteBasketAllocation",
    ),
    ApiRoute("GET", "/options/executions", EXECUTION_HISTORY, "listExecutions"),
    ApiRoute("GET", "/options/positions", EXECUTION_HISTORY, "listPositions"),
    ApiRoute("POST", "/options/kill-switch", KILL_SWITCH, "pressKillSwitch"),
    ApiRoute("GET", "/options/kill-switch", KILL_SWITCH, "getKillSwitch"),
    ApiRoute("DELETE", "/options/kill-switch", KILL_SWITCH, "rearmKillSwitch"),
    # Marketplace: published baskets and subscriptions to them.
    ApiRoute("GET", "/options/marketplace/listings", MARKETPLACE, "browseMarketplace"),
    ApiRoute("GET", "/options/marketplace/listings/{basket_id}", MARKETPLACE, "getListing"),
    ApiRoute("PUT", "/options/marketplace/listings/{basket_id}", MARKETPLACE, "publishListing"),
    ApiRoute("DELETE", "/options/marketplace/listings/{basket_id}", MARKETPLACE, "unpublishListing"),
    ApiRoute(
        "GET", "/options/marketplace/listings/{basket_id}/statements", MARKETPLACE, "listListingStatements"
    ),
    ApiRoute("POST", "/options/subscriptions", SUBSCRIPTIONS, "subscribe"),
    ApiRoute("GET", "/options/subscriptions", SUBSCRIPTIONS, "listSubscriptions"),
    ApiRoute("GET", "/options/subscriptions/{basket_id}", SUBSCRIPTIONS, "getSubscription"),
    ApiRoute("PUT", "/options/subscriptions/{basket_id}", SUBSCRIPTIONS, "updateSubscription"),
    ApiRoute("DELETE", "/options/subscriptions/{basket_id}", SUBSCRIPTIONS, "unsubscribe"),
    ApiRoute(
        "GET", "/options/subscriptions/{basket_id}/statement", SUBSCRIPTIONS, "getSubscriptionStatement"
    ),
    # The market calendar (Admins): holidays and special sessions per exchange.
    ApiRoute("GET", "/options/market-calendar/{exchange}", MARKET_CALENDAR, "getMarketCalendar"),
    ApiRoute("POST", "/options/market-calendar/{exchange}/holidays", MARKET_CALENDAR, "addMarketHoliday"),
    ApiRoute(
        "DELETE", "/options/market-calendar/{exchange}/holidays/{day}", MARKET_CALENDAR, "removeMarketHoliday"
    ),
    ApiRoute("POST", "/options/market-calendar/{exchange}/sessions", MARKET_CALENDAR, "addMarketSession"),
    ApiRoute(
        "DELETE", "/options/market-calendar/{exchange}/sessions/{day}", MARKET_CALENDAR, "removeMarketSession"
    ),
    # Backtests as jobs: 202 with the job, run by the job function; results linked when DONE.
    ApiRoute("POST", "/options/backtests", BACKTESTS, "createBacktest"),
    ApiRoute("GET", "/options/backtests", BACKTESTS, "listBacktests"),
    ApiRoute("GET", "/options/backtests/{backtest_id}", BACKTESTS, "getBacktest"),
    # Signal webhooks: my endpoints for chart alerts and what each received (the strategy
    # manager's function: one of its own would cost a dozen of the stack's 500 resources).
    ApiRoute("POST", "/options/webhooks", STRATEGY_MANAGER, "createWebhook"),
    ApiRoute("GET", "/options/webhooks", STRATEGY_MANAGER, "listWebhooks"),
    ApiRoute("DELETE", "/options/webhooks/{webhook_id}", STRATEGY_MANAGER, "deleteWebhook"),
    ApiRoute("POST", "/options/webhooks/{webhook_id}/rotate", STRATEGY_MANAGER, "rotateWebhookToken"),
    ApiRoute("GET", "/options/webhooks/{webhook_id}/signals", STRATEGY_MANAGER, "listWebhookSignals"),
)

# Served WITHOUT the Cognito authorizer: chart platforms (TradingView, Chartink) post alerts here,
# the secret URL token is the credential (docs/signals.md). Not part of the trader's API contract
# (docs/openapi.json); its own function, built by `cdk_stack/signals.py`.
PUBLIC_ROUTES: tuple[ApiRoute, ...] = (ApiRoute("POST", "/signals/{token}", SIGNAL_WEBHOOK, "receiveSignal"),)


def modules() -> tuple[str, ...]:
    """Handler modules in catalog order, each once."""
    return tuple(dict.fromkeys(route.module for route in API_ROUTES))


def routes_of(module: str) -> tuple[ApiRoute, ...]:
    return tuple(route for route in API_ROUTES if route.module == module)


ROUTES_BY_OPERATION: dict[str, ApiRoute] = {route.operation: route for route in API_ROUTES}
