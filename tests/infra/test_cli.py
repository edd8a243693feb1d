"""`python app.py`: bad environments end with a clear message and status 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_stack.application import REPO_ROOT
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.infra


def _run_app(
    tmp_path: Path, *args: str, context: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    if context is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    return subprocess.run(
        [sys.executable, "app.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "context"),
    # The same check through CDK's context: a second CDK app start (~20 s), in `make test-all`.
    [(("--env", "qa"), None), pytest.param((), {"env": "qa"}, marks=pytest.mark.slow)],
)
def test_unknown_environment_names_the_valid_ones(
    tmp_path: Path, args: tuple[str, ...], context: dict[str, str] | None
) -> None:
    result = _run_app(tmp_path, *args, context=context)
    assert result.returncode == 2
    assert "unknown environment 'qa'" in result.stderr
    assert "valid environments: dev, production, staging" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, "one clean line, no banner or trace"
    assert not list(tmp_path.glob("*.template.json"))


def test_cli_writes_the_stack_named_after_the_context_project(standalone: Synthesized) -> None:
    """The fixture runs app.py as the CDK CLI does, with `-c project=options-lab`."""
    assert standalone.project == "options-lab"
    assert standalone.template_file.name == "options-lab-dev-options-trading-stack.template.json"
    assert standalone.template["Description"].startswith("Options strategy platform (dev)")
    # Only the stack's name follows the project; resource names keep their prefix.
    (topic,) = standalone.of_type("AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == "ql-algo-trading-dev-operator-alarms"


def test_missing_deployment_inputs_end_with_one_line_naming_them(tmp_path: Path) -> None:
    """Refused before any construct is built (no CDK app starts), with the way to give them."""
    result = _run_app(tmp_path, "--env", "production", "-c", "alarm_emails=oncall@ql-trading-desk.in")
    assert result.returncode == 2
    assert "cors_allowed_origins is empty in production" in result.stderr
    assert "key 'alarm_emails'" not in result.stderr  # the one given with -c is accepted
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.template.json"))
