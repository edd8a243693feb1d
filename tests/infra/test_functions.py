"""Every function is built the same way, with its own role and only the table access it needs."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_stack.api import API_ACCESS
from cdk_stack.application import default_routes
from cdk_stack.brokers import SESSION_MANAGING_MODULES, manages_broker_sessions, market_data_secret
from cdk_stack.functions import METRICS_NAMESPACE, SERVICE_NAME, handler_path
from lambda_functions.option_baskets import (
    BACKTEST_RUNNER,
    FEED_AUTHORIZER,
    FEED_BROADCASTER,
    NOTIFICATION_SENDER,
    NOTIFIER,
)
from shared_utils.events.catalog import HANDLER_MODULES
from shared_utils.settings import RuntimeSettings
from shared_utils.tables import resource_prefix
from tests.infra.conftest import Synthesized
from tests.infra.helpers import (
    as_list,
    framework_functions,
    function_by_module,
    platform_functions,
    policy_statements_of_role,
    ref_target,
    statement_targets,
)

pytestmark = pytest.mark.infra

TABLE_SUFFIXES = {
    "trading": "trading-configurations",
    "history": "execution-history",
    "broker_accounts": "broker-accounts",
    "idempotency": "idempotency",
    "backtest_jobs": "backtest-jobs",
}
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _settings_names() -> set[str]:
    """Variables every function gets: the settings model's fields that are not optional."""
    fields = RuntimeSettings.model_fields
    return {field.alias for field in fields.values() if field.alias and field.default is not None}


def test_functions_share_one_build_recipe(synthesized: Synthesized) -> None:
    functions = platform_functions(synthesized)
    # The dependencies layer; the only other layer is the AWS CLI of CDK's bucket deployment.
    (layer_id,) = {ref_target(layer) for f in functions.values() for layer in f["Properties"]["Layers"]}
    assert set(synthesized.of_type("AWS::Lambda::LayerVersion")) - {layer_id} == {
        ref_target(layer)
        for function_id in framework_functions(synthesized)
        for layer in synthesized.resources[function_id]["Properties"]["Layers"]
    }
    assert synthesized.resources[layer_id]["Properties"]["CompatibleArchitectures"] == ["arm64"]
    roles = set()
    prefix = resource_prefix(synthesized.config.name)
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["Handler"].startswith("lambda_functions.option_baskets.")
        assert properties["Handler"].endswith(".handler")
        assert properties["FunctionName"].startswith(f"{prefix}-")
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert [ref_target(layer) for layer in properties["Layers"]] == [layer_id]
        variables = properties["Environment"]["Variables"]
        only_starter = (
            {"TIMER_STATE_MACHINE_ARN"} if properties["Handler"] == handler_path("timer_starter") else set()
        )
        # The functions that link accounts and keep their sessions encrypt with the brokers' key.
        sessions = (
            {"BROKER_SECRET_KMS_KEY"}
            if manages_broker_sessions(synthesized.config)
            and properties["Handler"] in {handler_path(m) for m in SESSION_MANAGING_MODULES}
            else set()
        )
        # A real market-data source logs in with a secret; the simulated one needs none.
        login = {"MARKET_DATA_SECRET"} if market_data_secret(synthesized.config) else set()
        # The live feed's: its management endpoint for the broadcaster, the pool and the
        # console's client whose ID tokens the authorizer accepts.
        feed = {
            handler_path(FEED_BROADCASTER): {"FEED_ENDPOINT_URL"},
            handler_path(FEED_AUTHORIZER): {"COGNITO_USER_POOL_ID", "COGNITO_APP_CLIENT_ID"},
        }.get(properties["Handler"], set())
        # Backtest jobs: their table and results bucket where jobs are kept or run; the API's
        # function also names the job function it starts them on.
        jobs = {"BACKTEST_JOBS_TABLE_NAME", "BACKTEST_RESULTS_BUCKET"}
        backtests = {
            handler_path(BACKTEST_RUNNER): jobs,
            handler_path("backtests"): jobs | {"BACKTEST_RUNNER_FUNCTION"},
        }.get(properties["Handler"], set())
        # Notifications (docs/notifications.md): the queue for the notifier; the queue and the bot
        # tokens' key for the sender and the preferences routes (the e-mail sender's two where the
        # environment configures one).
        email = (
            {"NOTIFICATION_EMAIL_SENDER", "NOTIFICATION_SES_CONFIGURATION_SET"}
            if synthesized.config.notification_email_sender
            else set()
        )
        notifications = {
            handler_path(NOTIFIER): {"NOTIFICATION_QUEUE_URL"},
            handler_path(NOTIFICATION_SENDER): {"NOTIFICATION_QUEUE_URL", "NOTIFICATION_SECRET_KMS_KEY"}
            | email,
            handler_path("basket_manager"): {"NOTIFICATION_QUEUE_URL", "NOTIFICATION_SECRET_KMS_KEY"} | email,
        }.get(properties["Handler"], set())
        own = only_starter | sessions | login | feed | backtests | notifications
        assert set(variables) == _settings_names() | own | {
            "FEED_CONNECTIONS_TABLE_NAME",
            "STRATEGY_RUN_QUEUE_URL",
            "MARKET_DATA_SOURCE",
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
            "POWERTOOLS_LOG_LEVEL",
        }
        assert variables["POWERTOOLS_SERVICE_NAME"] == SERVICE_NAME
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
        assert variables["POWERTOOLS_LOG_LEVEL"] == synthesized.config.log_level
        assert variables["PLATFORM_ENV"] == synthesized.config.name
        assert variables["SCHEDULE_SHARDS"] == str(synthesized.config.schedule_shards)
        assert variables["MARKET_DATA_SOURCE"] == synthesized.config.market_data.source.value
        log_group = synthesized.resources[ref_target(properties["LoggingConfig"]["LogGroup"]) or ""]
        assert log_group["Properties"]["RetentionInDays"] == synthesized.config.log_retention_days
        roles.add(ref_target(properties["Role"]))
    assert len(roles) == len(functions), "each function has its own role"
    for role_id in roles:
        assert "ManagedPolicyArns" not in synthesized.resources[role_id or ""]["Properties"]


def _table_id(synth: Synthesized, suffix: str) -> str:
    name = f"{resource_prefix(synth.config.name)}-{suffix}"
    (table_id,) = [
        key
        for key, table in synth.of_type("AWS::DynamoDB::Table").items()
        if table["Properties"]["TableName"] == name
    ]
    return table_id


def _access(synth: Synthesized, module: str) -> dict[str, set[str]]:
    """Table logical id -> DynamoDB actions the module's role may perform on it."""
    function = synth.resources[function_by_module(synth, module)]
    access: dict[str, set[str]] = {}
    for statement in policy_statements_of_role(synth, ref_target(function["Properties"]["Role"]) or ""):
        actions = {action for action in as_list(statement["Action"]) if action.startswith("dynamodb:")}
        for target in statement_targets(statement):
            if synth.resources.get(target, {}).get("Type") == "AWS::DynamoDB::Table" and actions:
                access.setdefault(target, set()).update(actions)
    return access


def test_checkers_only_read_orders_and_writers_write_them(standalone: Synthesized) -> None:
    history = _table_id(standalone, "execution-history")
    trading = _table_id(standalone, "trading-configurations")
    idempotency = _table_id(standalone, "idempotency")
    for module in HANDLER_MODULES.values():
        access: dict[str, Any] = _access(standalone, module)
        assert access[idempotency] & WRITE_ACTIONS, f"{module} records idempotency keys"
    for checker in ("stop_loss_checker", "duplicate_order_checker"):
        assert not _access(standalone, checker)[trading] & WRITE_ACTIONS, (
            f"{checker} must not change configurations"
        )
    # The trigger claims in configurations and queues runs; it touches no order or position.
    assert set(_access(standalone, "schedule_trigger")) == {trading, idempotency}
    executor = _access(standalone, "strategy_executor")
    assert executor[history] & executor[trading] & WRITE_ACTIONS  # ledger and runs; pauses
    # The duplicate checker writes its findings on the ledger entries and the brokers' mismatches.
    assert _access(standalone, "duplicate_order_checker")[history] & WRITE_ACTIONS
    # The refresher quotes the contracts of open positions: it reads them, and writes no order.
    assert not _access(standalone, "market_data_refresher")[history] & WRITE_ACTIONS
    # The emitter reads the calendar's admin changes and writes nothing; the starter reads them
    # too, and writes the accounts' states (the morning's logins, the evening's logouts).
    emitter = _access(standalone, "event_emitter")
    assert set(emitter) == {trading} and not emitter[trading] & WRITE_ACTIONS
    starter = _access(standalone, "timer_starter")  # standalone: this stack keeps the sessions
    accounts = _table_id(standalone, "broker-accounts")
    assert set(starter) == {trading, accounts} and starter[accounts] & WRITE_ACTIONS


def test_the_starter_is_told_which_state_machine_to_start(synthesized: Synthesized) -> None:
    starter = synthesized.resources[function_by_module(synthesized, "timer_starter")]["Properties"]
    (machine_id,) = synthesized.of_type("AWS::StepFunctions::StateMachine")
    assert ref_target(starter["Environment"]["Variables"]["TIMER_STATE_MACHINE_ARN"]) == machine_id


def test_read_only_api_modules_cannot_write_any_table(standalone: Synthesized) -> None:
    routes = default_routes()
    for module in {route.module for route in routes}:
        methods = {route.method.upper() for route in routes if route.module == module}
        if methods <= {"GET", "HEAD"}:
            for table_id, actions in _access(standalone, module).items():
                assert not actions & WRITE_ACTIONS, (module, table_id)
    # Linking writes the accounts table (and, as every mutating route, may keep idempotency records).
    broker_accounts = _table_id(standalone, "broker-accounts")
    idempotency = _table_id(standalone, "idempotency")
    assert set(_access(standalone, "broker_accounts")) == {broker_accounts, idempotency}


def test_every_api_module_gets_exactly_its_declared_tables(staging: Synthesized) -> None:
    """API_ACCESS is the whole truth: no table more, and writes only where routes mutate."""
    tables = {key: _table_id(staging, suffix) for key, suffix in TABLE_SUFFIXES.items()}
    routes = default_routes()
    for module in {route.module for route in routes}:
        mutating = any(
            route.method.upper() not in {"GET", "HEAD"} for route in routes if route.module == module
        )
        expected = {tables[key]: mode == "routes" and mutating for key, mode in API_ACCESS[module].items()}
        if mutating:
            expected[tables["idempotency"]] = True
        access = _access(staging, module)
        assert set(access) == set(expected), module
        for table_id, writes in expected.items():
            assert bool(access[table_id] & WRITE_ACTIONS) == writes, (module, table_id)
    # The execution modules, spelled out.
    history_access = _access(staging, "execution_history")
    assert set(history_access) == {tables["history"], tables["trading"]}
    assert not (history_access[tables["history"]] | history_access[tables["trading"]]) & WRITE_ACTIONS
    kill_switch = _access(staging, "kill_switch")
    assert kill_switch[tables["history"]] & WRITE_ACTIONS  # the switch and its progress
    assert not kill_switch[tables["trading"]] & WRITE_ACTIONS  # the executor pauses strategies
    assert tables["broker_accounts"] not in kill_switch  # the executor reaches the brokers
