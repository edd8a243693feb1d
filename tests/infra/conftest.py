"""Synthesizes each environment once per session: the CLI for dev (standalone auth, no egress VPC),
`build_app` for production with the auth stack's exports (cross-stack mode) and for staging.

Each is given its deployment inputs as CDK context, as `deploy.sh` gives them; dev's CLI run
also names its own project, so the stack name is seen to follow `-c project=...`. The trader
console's build is a stand-in written here (`console_build`) and given as the `console_dir`
context value, so the templates synthesize on a fresh clone where `make build` has not run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from cdk_stack import assets
from cdk_stack.application import REPO_ROOT, build_app
from cdk_stack.config import (
    DEFAULT_PROJECT,
    AuthStackExports,
    EnvironmentConfig,
    inputs_from_context,
    load_environment,
    stack_name,
)

AUTH_EXPORTS = AuthStackExports(
    user_pool_id="ql-auth-production-UserPoolId",
    broker_accounts_table="ql-auth-production-BrokerAccountsTable",
    broker_accounts_stream="ql-auth-production-BrokerAccountsStreamArn",
    api_gateway_id="ql-auth-production-ApiGatewayId",
    user_pool_domain_url="ql-auth-production-UserPoolDomainUrl",
    console_client_id="ql-auth-production-ConsoleClientId",
)

# What a deployer passes (`deploy.sh --alarm-email/--cors-origin`, i.e. `-c key=value`): the
# repository holds none for staging and production. Real-looking names: placeholder domains
# (example.com, .test) are refused.
DEPLOYMENT_CONTEXT: dict[str, dict[str, str]] = {
    "dev": {"project": "options-lab", "alarm_emails": "dev-alerts@ql-trading-desk.in"},
    "staging": {
        "alarm_emails": "oncall@ql-trading-desk.in,risk@ql-trading-desk.in",
        "cors_allowed_origins": "https://staging.ql-trading-desk.in",
    },
    "production": {
        "alarm_emails": "oncall@ql-trading-desk.in",
        "cors_allowed_origins": "https://app.ql-trading-desk.in",
    },
}


def deployed_config(environment: str) -> EnvironmentConfig:
    """The environment's configuration with the deployment inputs the fixtures deploy it with."""
    return load_environment(environment, inputs=inputs_from_context(DEPLOYMENT_CONTEXT[environment]))


@dataclass(frozen=True)
class Synthesized:
    config: EnvironmentConfig
    outdir: Path
    template: dict[str, Any]
    project: str = DEFAULT_PROJECT

    @property
    def template_file(self) -> Path:
        return self.outdir / f"{stack_name(self.config.name, self.project)}.template.json"

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.resources.items() if value["Type"] == resource_type}

    def assertions(self) -> Template:
        """`aws_cdk.assertions` view of the same template (no second synthesis)."""
        return Template.from_json(self.template)

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


@pytest.fixture(scope="session")
def built_assets() -> None:
    assets.build_app_asset()
    assets.build_layer()


CONSOLE_INDEX = '<!doctype html><title>Console</title><script type="module" src="./app.js"></script>\n'


@pytest.fixture(scope="session")
def console_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the console build `make build` writes to `.build/console`."""
    directory = tmp_path_factory.mktemp("console")
    (directory / "index.html").write_text(CONSOLE_INDEX, encoding="utf-8")
    (directory / "app.js").write_text("export {};\n", encoding="utf-8")
    return directory


def _cli_context(environment: str, console_dir: Path) -> dict[str, Any]:
    """What the CDK CLI hands the app: cdk.json's context plus `-c env=...`, the inputs and the
    console build's directory."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return {
        **context,
        "env": environment,
        **DEPLOYMENT_CONTEXT[environment],
        "console_dir": str(console_dir),
    }


def _load(config: EnvironmentConfig, outdir: Path, project: str = DEFAULT_PROJECT) -> Synthesized:
    template_file = outdir / f"{stack_name(config.name, project)}.template.json"
    return Synthesized(config, outdir, json.loads(template_file.read_text()), project)


@pytest.fixture(scope="session")
def standalone(
    built_assets: None, console_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Synthesized:
    """dev through the CLI exactly as the CDK CLI runs it (`-c env=dev` -> CDK_CONTEXT_JSON)."""
    outdir = tmp_path_factory.mktemp("cdk-dev")
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "CDK_OUTDIR": str(outdir),
            "CDK_CONTEXT_JSON": json.dumps(_cli_context("dev", console_build)),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return _load(deployed_config("dev"), outdir, DEPLOYMENT_CONTEXT["dev"]["project"])


@pytest.fixture(scope="session")
def cross_stack(
    built_assets: None, console_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk-production")
    config = deployed_config("production").model_copy(update={"auth_stack_exports": AUTH_EXPORTS})
    app, _ = build_app(config, outdir=str(outdir), context=_cli_context("production", console_build))
    app.synth()
    return _load(config, outdir)


@pytest.fixture(scope="session")
def staging(built_assets: None, console_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk-staging")
    config = deployed_config("staging")
    app, _ = build_app(config, outdir=str(outdir), context=_cli_context("staging", console_build))
    app.synth()
    return _load(config, outdir)


@pytest.fixture(scope="session", params=["standalone", "cross_stack", "staging"])
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Each environment in turn, for properties that must hold in every one of them."""
    return request.getfixturevalue(request.param)
