"""Builds the CDK app for one environment: the stack plus cdk-nag on every synthesis.

`app.py` (the CLI) and the infrastructure tests both call `build_app`, so the tests check the
exact app that deploys, with the same rule pack and acknowledgements.

The trader console's build (`make build` writes it to `.build/console`) is an input like the
Lambda assets: the context value `console_dir` (`-c console_dir=PATH`, relative to the
repository) names another directory; a missing one stops synthesis with a `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from cdk_stack.api import Route
from cdk_stack.brokers import manages_broker_sessions
from cdk_stack.config import DEFAULT_PROJECT, ConfigError, EnvironmentConfig
from cdk_stack.stack import OptionsTradingStack

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / ".build"
APP_ASSET = BUILD_DIR / "app"
LAYER_ASSET = BUILD_DIR / "layer"
TIMER_DEFINITION = REPO_ROOT / "step_functions" / "master_timer.asl.json"
CONSOLE_ASSET = BUILD_DIR / "console"
CONSOLE_DIR_CONTEXT = "console_dir"


def default_routes(config: EnvironmentConfig | None = None) -> Sequence[Route]:
    """The catalog's routes; in cross-stack mode without the linking routes (the auth stack
    links accounts and runs their broker logins)."""
    from shared_utils.api.catalog import API_ROUTES, LINKING_ROUTES

    if config is None or manages_broker_sessions(config):
        return API_ROUTES
    return tuple(route for route in API_ROUTES if route not in LINKING_ROUTES)


def build_app(
    config: EnvironmentConfig,
    *,
    outdir: str,
    context: dict[str, Any] | None = None,
    app_asset: Path = APP_ASSET,
    layer_asset: Path = LAYER_ASSET,
    timer_definition: Path = TIMER_DEFINITION,
    console_dir: Path | None = None,
    routes: Sequence[Route] | None = None,
    project: str = DEFAULT_PROJECT,
) -> tuple[App, OptionsTradingStack]:
    """The app with one stack, named after `project` and the environment; `ConfigError` when a
    required input is missing. `console_dir`: the console build; by default the context's
    `console_dir` (the CDK CLI's `-c`, or `context`), else `.build/console`."""
    app = App(outdir=outdir, context=context)
    if console_dir is None:
        console_dir = _console_dir(app.node.try_get_context(CONSOLE_DIR_CONTEXT))
    for path, hint in (
        (app_asset, "run `make build` first"),
        (layer_asset, "run `make build` first"),
        (timer_definition, "the timer state machine definition is missing"),
        (console_dir / "index.html", "the trader console is not built: run `make build` first"),
    ):
        if not path.exists():
            raise ConfigError(f"{path} not found: {hint}")
    stack = OptionsTradingStack(
        app,
        config=config,
        app_asset=app_asset,
        layer_asset=layer_asset,
        timer_definition=timer_definition,
        console_dir=console_dir,
        routes=default_routes(config) if routes is None else routes,
        project=project,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
    return app, stack


def _console_dir(value: Any) -> Path:
    if value is None:
        return CONSOLE_ASSET
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"context value {CONSOLE_DIR_CONTEXT!r} must be a directory path")
    path = Path(value.strip())
    return path if path.is_absolute() else REPO_ROOT / path
