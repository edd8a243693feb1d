"""The deployed zip would import: every handler module loads with only the code asset and a layer
built from requirements.txt on sys.path (no site-packages, no repository checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_stack import assets
from cdk_stack.application import BUILD_DIR, default_routes
from shared_utils.events.catalog import HANDLER_MODULES
from shared_utils.settings import RuntimeSettings

TIMER_MODULES = ("event_emitter", "timer_starter")

IMPORT_EVERY_HANDLER = """
import importlib, json, sys
app, layer, modules = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
assert not any("site-packages" in entry for entry in sys.path), sys.path
sys.path[:0] = [app, layer]
for module in modules:
    handler = importlib.import_module(f"lambda_functions.option_baskets.{module}").handler
    assert callable(handler), module
    origin = sys.modules[f"lambda_functions.option_baskets.{module}"].__file__
    assert origin.startswith(app), origin
import pydantic
assert pydantic.__file__.startswith(layer), pydantic.__file__
print(len(modules))
"""


def _handler_modules() -> list[str]:
    api_modules = [route.module for route in default_routes()]
    return list(dict.fromkeys([*HANDLER_MODULES.values(), *TIMER_MODULES, *api_modules]))


def test_every_handler_imports_from_the_assets_alone(tmp_path: Path) -> None:
    app = assets.build_app_asset(tmp_path / "app")
    assert not list(app.rglob("__pycache__"))
    # The Lambda layer is arm64 / CPython 3.13 and cannot load here: a host build of the same
    # requirements.txt stands in for it (cached by requirements hash).
    layer = assets.build_layer(BUILD_DIR / "test-layer", platform=assets.HOST) / "python"
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
        [sys.executable, "-I", "-S", "-c", IMPORT_EVERY_HANDLER, str(app), str(layer), json.dumps(modules)],
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
