"""The deployed zip would import: every handler module, and the Upstox and Dhan adapters with their
SDKs, load with only the code asset and a layer built from requirements.txt and
requirements-layer-nodeps.txt on sys.path (no site-packages, no repository checkout). The layer
holds no module hiding a standard-library one (PyPI's Python 2 `uuid`), no pandas, and every
dependency the no-deps packages declare is in it or named as left out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import Distribution, distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cdk_stack import assets
from cdk_stack.application import BUILD_DIR, default_routes
from shared_utils.api.catalog import PUBLIC_ROUTES
from shared_utils.events.catalog import HANDLER_MODULES
from shared_utils.settings import RuntimeSettings

TIMER_MODULES = ("event_emitter", "timer_starter")

IMPORT_EVERY_HANDLER = """
import importlib, json, sys
app, layer, modules, brokers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
assert not any("site-packages" in entry for entry in sys.path), sys.path
sys.path[:0] = [app, layer]
for module in modules:
    handler = importlib.import_module(f"lambda_functions.option_baskets.{module}").handler
    assert callable(handler), module
    origin = sys.modules[f"lambda_functions.option_baskets.{module}"].__file__
    assert origin.startswith(app), origin
import pydantic
assert pydantic.__file__.startswith(layer), pydantic.__file__
for module in brokers:
    importlib.import_module(module)
# The adapters import their SDKs on first use: building one loads what its calls need.
from pydantic import SecretStr
from shared_utils.brokers.credentials import BrokerCredentials
from shared_utils.brokers.dhan import DhanBroker
from shared_utils.brokers.upstox import UpstoxBroker
from shared_utils.clock import SystemClock
credentials = BrokerCredentials(access_token=SecretStr("token"), user_id="1100000001")
UpstoxBroker(credentials, SystemClock(), lambda exchange, symbol: None)
DhanBroker(credentials, SystemClock(), lambda exchange, symbol: None)
from upstox_client import LoginApi, PlaceOrderV3Request
for sdk in ("upstox_client", "dhanhq", "google.protobuf", "websockets"):
    assert sys.modules[sdk].__file__.startswith(layer), (sdk, sys.modules[sdk].__file__)
import uuid
assert not uuid.__file__.startswith(layer), uuid.__file__
uuid.uuid4()
assert "pandas" not in sys.modules
print(len(modules))
"""
BROKER_MODULES = (
    "shared_utils.brokers.upstox",
    "shared_utils.brokers.upstox_login",
    "shared_utils.market_data.upstox_master",
    "shared_utils.brokers.dhan",
    "shared_utils.brokers.dhan_login",
    "shared_utils.market_data.dhan_master",
)
LEFT_OUT = re.compile(r"#\s*without:\s*(?P<names>.*)$")


def _handler_modules() -> list[str]:
    api_modules = [route.module for route in (*default_routes(), *PUBLIC_ROUTES)]
    return list(dict.fromkeys([*HANDLER_MODULES.values(), *TIMER_MODULES, *api_modules]))


def _nodeps_packages() -> dict[str, set[str]]:
    """The no-deps file's packages -> the declared dependencies its "without:" comment leaves out."""
    packages: dict[str, set[str]] = {}
    for line in assets.NODEPS_REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        left_out = LEFT_OUT.search(line)
        names = re.split(r"[,\s]+", left_out["names"]) if left_out else []
        name = canonicalize_name(Requirement(requirement).name)
        packages[name] = {canonicalize_name(left) for left in names if left}
    return packages


def assert_layer_contents(layer: Path) -> None:
    """No stdlib shadow (uuid above all), no pandas, the no-deps packages' needs all met or waived."""
    top = {entry.name for entry in layer.iterdir()}
    assert not top & {"uuid", "uuid.py"}
    assert assets.stdlib_shadows(layer) == []
    assert not top & {"pandas", "test"}
    installed: dict[str, Distribution] = {
        canonicalize_name(dist.metadata["Name"]): dist for dist in distributions(path=[str(layer)])
    }
    assert not installed.keys() & {"uuid", "pandas"}
    packages = _nodeps_packages()
    assert packages.keys() == {"upstox-python-sdk", "dhanhq"}
    for package, left_out in packages.items():
        declared: set[str] = set()
        for text in installed[package].requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                declared.add(canonicalize_name(requirement.name))
        assert left_out <= declared, (package, left_out - declared)  # no stale "without:" names
        missing = declared - left_out - installed.keys()
        assert not missing, f"{package} declares {sorted(missing)}: add to requirements.txt or 'without:'"
    assert "uuid" in packages["upstox-python-sdk"] and "pandas" in packages["dhanhq"]


def test_every_handler_imports_from_the_assets_alone(tmp_path: Path) -> None:
    app = assets.build_app_asset(tmp_path / "app")
    assert not list(app.rglob("__pycache__"))
    # The Lambda layer is arm64 / CPython 3.13 and cannot load here: a host build of the same
    # requirement files stands in for it (cached by their hash).
    layer = assets.build_layer(BUILD_DIR / "test-layer", platform=assets.HOST) / "python"
    assert_layer_contents(layer)
    modules = _handler_modules()
    settings = RuntimeSettings(
        environment="test",
        trading_table_name="ql-algo-trading-test-trading-configurations",
        history_table_name="ql-algo-trading-test-execution-history",
        broker_accounts_table_name="ql-algo-trading-test-broker-accounts",
        idempotency_table_name="ql-algo-trading-test-idempotency",
        event_bus_name="ql-algo-trading-test-timer-bus",
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "ap-south-1",
        "POWERTOOLS_SERVICE_NAME": "packaging-test",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PackagingTest",
        **settings.as_environment(),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            IMPORT_EVERY_HANDLER,
            str(app),
            str(layer),
            json.dumps(modules),
            json.dumps(BROKER_MODULES),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(modules))


@pytest.mark.infra
def test_lambda_layer_holds_arm64_cpython_313_binaries() -> None:
    layer = assets.build_layer() / "python"
    extensions = {path.name for path in layer.rglob("*.so")}
    assert any(name.startswith("_pydantic_core.cpython-313-aarch64-linux-gnu") for name in extensions)
    assert not any("x86_64" in name for name in extensions)
    assert (layer / "aws_lambda_powertools").is_dir()
    assert (layer / "upstox_client").is_dir() and (layer / "dhanhq").is_dir()
    assert_layer_contents(layer)
