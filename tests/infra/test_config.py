"""Environment configuration: valid files load, bad ones fail with a message naming the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdk_stack.config import ENVIRONMENTS_FILE, ConfigError, environment_names, load_environment
from shared_utils.settings import MarketDataSourceName


def test_the_three_environments_differ_where_the_design_says() -> None:
    assert environment_names() == ["dev", "production", "staging"]
    dev, staging, production = (load_environment(name) for name in ("dev", "staging", "production"))
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
    dev, staging, production = (load_environment(name) for name in ("dev", "staging", "production"))
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
        load_environment("staging", path)
    dev = load_environment("dev")
    assert dev.market_data.source is MarketDataSourceName.SIMULATED
