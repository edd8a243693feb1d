"""Environment configuration: valid files load, bad ones fail with a message naming the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdk_stack.config import (
    DEFAULT_PROJECT,
    ENVIRONMENTS_FILE,
    REAL_MONEY_ENVIRONMENTS,
    ConfigError,
    check_project,
    environment_names,
    inputs_from_context,
    load_environment,
    stack_name,
)
from shared_utils.settings import MarketDataSourceName
from shared_utils.tables import resource_prefix
from tests.infra.conftest import deployed_config


def test_the_three_environments_differ_where_the_design_says() -> None:
    assert environment_names() == ["dev", "production", "staging"]
    dev, staging, production = (deployed_config(name) for name in ("dev", "staging", "production"))
    assert [c.log_retention_days for c in (dev, staging, production)] == [7, 30, 90]
    assert [c.removal_policy for c in (dev, staging, production)] == ["destroy", "retain", "retain"]
    assert [c.point_in_time_recovery for c in (dev, staging, production)] == [False, True, True]
    assert {c.region for c in (dev, staging, production)} == {"ap-south-1"}
    assert (production.timer_window.hour, production.timer_window.minute) == (9, 0)


def test_unknown_environment_names_the_valid_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown environment 'qa'.*valid environments: dev, production, staging"
    ):
        load_environment("qa")


def _write(tmp_path: Path, environments: dict[str, object]) -> Path:
    path = tmp_path / "environments.json"
    path.write_text(json.dumps(environments))
    return path


def test_missing_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    dev = json.loads(ENVIRONMENTS_FILE.read_text())["dev"]
    del dev["log_retention_days"]
    path = _write(tmp_path, {"dev": dev})
    with pytest.raises(ConfigError) as error:
        load_environment("dev", path)
    assert "missing key 'log_retention_days'" in str(error.value)
    assert str(path) in str(error.value)


def test_bad_values_are_named_with_their_key(tmp_path: Path) -> None:
    dev = json.loads(ENVIRONMENTS_FILE.read_text())["dev"]
    dev["log_retention_days"] = 8
    dev["timer_window"]["start"] = "25:00"
    dev["typo_key"] = True
    with pytest.raises(ConfigError) as error:
        load_environment("dev", _write(tmp_path, {"dev": dev}))
    message = str(error.value)
    assert "key 'log_retention_days'" in message
    assert "key 'timer_window.start'" in message
    assert "unknown key 'typo_key'" in message


def test_unreadable_file_is_reported_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "environments.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_environment("dev", path)
    with pytest.raises(ConfigError, match="file not found"):
        load_environment("dev", tmp_path / "missing.json")


def test_broker_egress_is_off_in_dev_and_on_where_real_orders_are_sent() -> None:
    dev, staging, production = (deployed_config(name) for name in ("dev", "staging", "production"))
    assert dev.broker_egress_vpc.enabled is False
    assert staging.broker_egress_vpc.enabled is True
    assert production.broker_egress_vpc.enabled is True
    assert production.broker_egress_vpc.nat_gateways <= production.broker_egress_vpc.max_azs


@pytest.mark.parametrize(
    ("egress", "problem"),
    [
        ({"enabled": True, "max_azs": 1, "nat_gateways": 2}, "nat_gateways cannot exceed max_azs"),
        (
            {"enabled": True, "nat_gateways": 1, "eip_allocation_ids": ["eipalloc-0123456789abcdef0"] * 2},
            "one allocation id per NAT gateway",
        ),
        ({"enabled": True, "eip_allocation_ids": ["203.0.113.7"]}, "is not an Elastic IP allocation id"),
        ({"enabled": True, "cidr": "10.0.0.0/8"}, "key 'broker_egress_vpc.cidr'"),
    ],
)
def test_inconsistent_egress_options_are_rejected(
    tmp_path: Path, egress: dict[str, object], problem: str
) -> None:
    dev = json.loads(ENVIRONMENTS_FILE.read_text())["dev"]
    dev["broker_egress_vpc"] = egress
    with pytest.raises(ConfigError, match=problem):
        load_environment("dev", _write(tmp_path, {"dev": dev}))


def test_a_deployed_environment_never_prices_from_a_simulation_by_accident(tmp_path: Path) -> None:
    environments = json.loads(ENVIRONMENTS_FILE.read_text(encoding="utf-8"))
    assert environments["production"]["market_data"]["source"] == "kite"
    staging = environments["staging"] | {"market_data": {"source": "simulated"}}
    path = tmp_path / "environments.json"
    path.write_text(json.dumps({"staging": staging}), encoding="utf-8")
    with pytest.raises(ConfigError, match="allow_simulated"):
        load_environment("staging", path, inputs=inputs_from_context(REAL))
    dev = load_environment("dev")
    assert dev.market_data.source is MarketDataSourceName.SIMULATED


# --- deployment inputs: alarm e-mails and CORS origins -------------------------------------

REAL = {"alarm_emails": "oncall@ql-trading-desk.in", "cors_allowed_origins": "https://app.ql-trading-desk.in"}


@pytest.mark.parametrize("environment", REAL_MONEY_ENVIRONMENTS)
def test_the_repository_holds_no_address_or_origin_for_real_money_environments(environment: str) -> None:
    """Neither a placeholder nor a guess is committed: the deployer must give both, and the
    error says how."""
    raw = json.loads(ENVIRONMENTS_FILE.read_text(encoding="utf-8"))[environment]
    assert raw["alarm_emails"] == [] and raw["cors_allowed_origins"] == []
    with pytest.raises(ConfigError) as error:
        load_environment(environment)
    message = str(error.value)
    assert f"alarm_emails is empty in {environment}" in message
    assert f"cors_allowed_origins is empty in {environment}" in message
    assert "--alarm-email" in message and "-c alarm_emails=" in message
    assert "--cors-origin" in message and "-c cors_allowed_origins=" in message


def test_context_inputs_replace_the_files_values_and_split_on_commas() -> None:
    inputs = inputs_from_context(
        {
            "env": "production",
            "alarm_emails": " oncall@ql-trading-desk.in, risk@ql-trading-desk.in ,",
            "cors_allowed_origins": ["https://app.ql-trading-desk.in"],
        }
    )
    assert inputs == {
        "alarm_emails": ("oncall@ql-trading-desk.in", "risk@ql-trading-desk.in"),
        "cors_allowed_origins": ("https://app.ql-trading-desk.in",),
    }
    production = load_environment("production", inputs=inputs)
    assert production.alarm_emails == inputs["alarm_emails"]
    assert production.cors_allowed_origins == inputs["cors_allowed_origins"]
    dev = load_environment("dev", inputs={"cors_allowed_origins": ("http://localhost:3000",)})
    assert dev.cors_allowed_origins == ("http://localhost:3000",)
    with pytest.raises(ConfigError, match="comma-separated"):
        inputs_from_context({"alarm_emails": 7})


def test_dev_may_mail_nobody_and_call_from_localhost() -> None:
    dev = load_environment("dev")
    assert dev.alarm_emails == ()
    assert dev.cors_allowed_origins == ("http://localhost:5173",)


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("https://options.example.com", "placeholder or local origin"),
        ("https://staging.options.example.org", "placeholder or local origin"),
        ("https://app.test", "placeholder or local origin"),
        ("https://localhost:5173", "placeholder or local origin"),
        ("https://127.0.0.1", "placeholder or local origin"),
        ("http://app.ql-trading-desk.in", "is not https"),
        ("https://app.ql-trading-desk.in/", "is not an origin"),
        ("*", "is not an origin"),
    ],
)
@pytest.mark.parametrize("environment", REAL_MONEY_ENVIRONMENTS)
def test_real_money_environments_refuse_placeholder_local_or_plain_http_origins(
    environment: str, origin: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as error:
        load_environment(environment, inputs={**inputs_from_context(REAL), "cors_allowed_origins": (origin,)})
    assert "key 'cors_allowed_origins'" in str(error.value)


@pytest.mark.parametrize(
    ("addresses", "problem"),
    [
        (("ops@example.com",), "placeholder domain"),
        (("ops@alerts.example.net",), "placeholder domain"),
        (("ops@desk.test",), "placeholder domain"),
        (("operators",), "is not an e-mail address"),
        (("ops@ql-trading-desk.in", "OPS@ql-trading-desk.in"), "appears twice"),
    ],
)
@pytest.mark.parametrize("environment", ["dev", "production"])
def test_alarm_addresses_are_real_addresses_in_every_environment(
    environment: str, addresses: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as error:
        load_environment(environment, inputs={**inputs_from_context(REAL), "alarm_emails": addresses})
    assert "key 'alarm_emails'" in str(error.value)


def test_only_deployment_inputs_can_be_given_at_deploy_time() -> None:
    with pytest.raises(ConfigError, match="not deployment inputs: log_level"):
        load_environment("dev", inputs={"log_level": "ERROR"})


# --- the project names the stack ------------------------------------------------------------


def test_the_project_names_the_stack_and_the_default_matches_the_resource_names() -> None:
    assert stack_name("dev", "myproj") == "myproj-dev-options-trading-stack"
    for environment in environment_names():
        assert stack_name(environment) == f"{resource_prefix(environment)}-options-trading-stack"
    assert stack_name("production", DEFAULT_PROJECT) == "ql-algo-trading-production-options-trading-stack"


@pytest.mark.parametrize("project", ["", "1desk", "-desk", "desk;rm", "desk_two", "d" * 65])
def test_a_project_that_cannot_name_a_stack_is_refused(project: str) -> None:
    with pytest.raises(ConfigError, match="part of the stack name"):
        check_project(project)
    assert check_project("Desk-2") == "Desk-2"


def test_cross_stack_mode_needs_the_feed_and_console_exports(tmp_path: Path) -> None:
    """The broker-accounts stream (the live feed), the hosted UI and the console's client come
    from the auth stack too: an exports entry without them is refused, naming each."""
    dev = json.loads(ENVIRONMENTS_FILE.read_text())["dev"]
    dev["auth_stack_exports"] = {
        "user_pool_id": "ql-auth-dev-UserPoolId",
        "broker_accounts_table": "ql-auth-dev-BrokerAccountsTable",
        "api_gateway_id": "ql-auth-dev-ApiGatewayId",
    }
    with pytest.raises(ConfigError) as error:
        load_environment("dev", _write(tmp_path, {"dev": dev}))
    for key in ("broker_accounts_stream", "user_pool_domain_url", "console_client_id"):
        assert f"missing key 'auth_stack_exports.{key}'" in str(error.value)
