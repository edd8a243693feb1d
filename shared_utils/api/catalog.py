"""Every route of the REST API and the handler module that serves it.

The CDK stack builds one API Gateway method per record and one Lambda function per `module`
(a module name under `lambda_functions/option_baskets`); each handler module includes exactly
the routers that serve its routes, and a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    module: str


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

# Linking accounts and their logins: served here in standalone mode; in cross-stack mode the auth
# stack owns the accounts and their broker logins, and these are not deployed.
LINKING_ROUTES = (
    ApiRoute("POST", "/options/broker-accounts", BROKER_ACCOUNTS),
    ApiRoute("POST", "/options/broker-accounts/{broker_account_id}/login", BROKER_ACCOUNTS),
    ApiRoute("POST", "/options/broker-accounts/{broker_account_id}/session", BROKER_ACCOUNTS),
)
API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("GET", "/options/broker-accounts", BROKER_ACCOUNTS),
    *LINKING_ROUTES,
    ApiRoute("GET", "/options/strategy-templates", STRATEGY_TEMPLATES),
    ApiRoute("GET", "/options/baskets", BASKET_MANAGER),
    ApiRoute("POST", "/options/baskets", BASKET_MANAGER),
    ApiRoute("GET", "/options/baskets/{basket_id}", BASKET_MANAGER),
    ApiRoute("PUT", "/options/baskets/{basket_id}", BASKET_MANAGER),
    ApiRoute("DELETE", "/options/baskets/{basket_id}", BASKET_MANAGER),
    ApiRoute("GET", "/options/strategies", STRATEGY_MANAGER),
    ApiRoute("POST", "/options/baskets/{basket_id}/strategies", STRATEGY_MANAGER),
    ApiRoute("GET", "/options/strategies/{strategy_id}", STRATEGY_MANAGER),
    ApiRoute("PUT", "/options/strategies/{strategy_id}", STRATEGY_MANAGER),
    ApiRoute("DELETE", "/options/strategies/{strategy_id}", STRATEGY_MANAGER),
    ApiRoute("GET", "/options/strategies/{strategy_id}/brokers", STRATEGY_BROKER_ALLOCATOR),
    ApiRoute("POST", "/options/strategies/{strategy_id}/brokers", STRATEGY_BROKER_ALLOCATOR),
    ApiRoute("PUT", "/options/strategies/{strategy_id}/brokers/{allocation_id}", STRATEGY_BROKER_ALLOCATOR),
    ApiRoute(
        "DELETE", "/options/strategies/{strategy_id}/brokers/{allocation_id}", STRATEGY_BROKER_ALLOCATOR
    ),
    ApiRoute("GET", "/options/baskets/{basket_id}/brokers", STRATEGY_BROKER_ALLOCATOR),
    ApiRoute("POST", "/options/baskets/{basket_id}/brokers", STRATEGY_BROKER_ALLOCATOR),
    ApiRoute("PUT", "/options/baskets/{basket_id}/brokers/{allocation_id}", STRATEGY_BROKER_ALLOCATOR),
    ApiRoute("DELETE", "/options/baskets/{basket_id}/brokers/{allocation_id}", STRATEGY_BROKER_ALLOCATOR),
    ApiRoute("GET", "/options/executions", EXECUTION_HISTORY),
    ApiRoute("GET", "/options/positions", EXECUTION_HISTORY),
    ApiRoute("POST", "/options/kill-switch", KILL_SWITCH),
    ApiRoute("GET", "/options/kill-switch", KILL_SWITCH),
    ApiRoute("DELETE", "/options/kill-switch", KILL_SWITCH),
    # Marketplace: published baskets and subscriptions to them.
    ApiRoute("GET", "/options/marketplace/listings", MARKETPLACE),
    ApiRoute("GET", "/options/marketplace/listings/{basket_id}", MARKETPLACE),
    ApiRoute("PUT", "/options/marketplace/listings/{basket_id}", MARKETPLACE),
    ApiRoute("DELETE", "/options/marketplace/listings/{basket_id}", MARKETPLACE),
    ApiRoute("GET", "/options/marketplace/listings/{basket_id}/statements", MARKETPLACE),
    ApiRoute("POST", "/options/subscriptions", SUBSCRIPTIONS),
    ApiRoute("GET", "/options/subscriptions", SUBSCRIPTIONS),
    ApiRoute("GET", "/options/subscriptions/{basket_id}", SUBSCRIPTIONS),
    ApiRoute("PUT", "/options/subscriptions/{basket_id}", SUBSCRIPTIONS),
    ApiRoute("DELETE", "/options/subscriptions/{basket_id}", SUBSCRIPTIONS),
    ApiRoute("GET", "/options/subscriptions/{basket_id}/statement", SUBSCRIPTIONS),
    # The market calendar (Admins): holidays and special sessions per exchange.
    ApiRoute("GET", "/options/market-calendar/{exchange}", MARKET_CALENDAR),
    ApiRoute("POST", "/options/market-calendar/{exchange}/holidays", MARKET_CALENDAR),
    ApiRoute("DELETE", "/options/market-calendar/{exchange}/holidays/{day}", MARKET_CALENDAR),
    ApiRoute("POST", "/options/market-calendar/{exchange}/sessions", MARKET_CALENDAR),
    ApiRoute("DELETE", "/options/market-calendar/{exchange}/sessions/{day}", MARKET_CALENDAR),
)


def modules() -> tuple[str, ...]:
    """Handler modules in catalog order, each once."""
    return tuple(dict.fromkeys(route.module for route in API_ROUTES))


def routes_of(module: str) -> tuple[ApiRoute, ...]:
    return tuple(route for route in API_ROUTES if route.module == module)
