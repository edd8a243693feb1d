"""deploy.sh: the seed's `-p/-e/-a` interface, validated before anything is built or deployed; the
project names the stack, and staging and production need their deployment inputs."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from cdk_stack.application import REPO_ROOT


def _deploy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO_ROOT / "deploy.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _deploy_command(stdout: str) -> list[str]:
    build, console, deploy = stdout.splitlines()
    assert build.startswith("+ ") and build.endswith("-m cdk_stack.assets")
    assert console == "+ node console/build.mjs"  # the stack uploads .build/console
    return shlex.split(deploy.removeprefix("+ "))


def _context(command: list[str]) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command) if arg == "-c"]


def test_dry_run_prints_the_builds_and_the_pinned_cdk_deploy() -> None:
    result = _deploy(
        *("-p", "ql-algo-trading", "-e", "staging", "-a", "trading-staging"),
        *("--alarm-email", "oncall@ql-trading-desk.in", "--alarm-email", "risk@ql-trading-desk.in"),
        *("--cors-origin", "https://staging.ql-trading-desk.in", "--dry-run"),
    )
    assert result.returncode == 0, result.stderr
    command = _deploy_command(result.stdout)
    assert command[:4] == ["npx", "--yes", command[2], "deploy"] and command[2].startswith("aws-cdk@2.")
    assert command[4] == "ql-algo-trading-staging-options-trading-stack"
    assert _context(command) == [
        "env=staging",
        "project=ql-algo-trading",
        "alarm_emails=oncall@ql-trading-desk.in,risk@ql-trading-desk.in",
        "cors_allowed_origins=https://staging.ql-trading-desk.in",
    ]
    assert command[command.index("--profile") + 1] == "trading-staging"
    assert "Project=ql-algo-trading" in command


def test_the_project_names_the_stack_it_deploys() -> None:
    result = _deploy("-p", "myproj", "-e", "dev", "-a", "prof", "--dry-run")
    assert result.returncode == 0, result.stderr
    command = _deploy_command(result.stdout)
    assert command[4] == "myproj-dev-options-trading-stack"
    # app.py builds the stack id from the same context value, so `cdk deploy NAME` selects it.
    assert _context(command) == ["env=dev", "project=myproj"]
    assert "Project=myproj" in command


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_real_money_environments_are_refused_without_their_deployment_inputs(environment: str) -> None:
    result = _deploy("-p", "ql-algo-trading", "-e", environment, "-a", "prod", "--dry-run")
    assert result.returncode == 2
    assert f"alarm_emails is empty in {environment}" in result.stderr
    assert f"cors_allowed_origins is empty in {environment}" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_placeholder_origin_is_refused_before_any_command() -> None:
    result = _deploy(
        *("-p", "ql-algo-trading", "-e", "production", "-a", "prod"),
        *("--alarm-email", "oncall@ql-trading-desk.in", "--cors-origin", "https://options.example.com"),
        "--dry-run",
    )
    assert result.returncode == 2
    assert "placeholder" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("-p", "ql-algo-trading"),
        ("-p", "ql-algo-trading", "-e", "dev"),
        ("-e", "dev", "-a", "default"),
        ("-p", "ql-algo-trading", "-e", "dev", "-a"),
        ("-p", "ql-algo-trading", "-e", "dev", "-a", "default", "--force"),
    ],
)
def test_missing_or_unknown_flags_print_usage_and_exit_2(args: tuple[str, ...]) -> None:
    result = _deploy(*args, "--dry-run")
    assert result.returncode == 2
    assert "usage: ./deploy.sh -p PROJECT -e ENV -a AWS_PROFILE" in result.stderr
    assert result.stdout == ""


def test_unknown_environment_is_named_with_the_valid_ones() -> None:
    result = _deploy("-p", "ql-algo-trading", "-e", "qa", "-a", "default", "--dry-run")
    assert result.returncode == 2
    assert "unknown environment 'qa'" in result.stderr
    assert "dev, production, staging" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("project", ["proj; rm -rf /", "1proj"])
def test_unsafe_values_are_refused_before_any_command(project: str) -> None:
    result = _deploy("-p", project, "-e", "dev", "-a", "default", "--dry-run")
    assert result.returncode == 2
    assert "project" in result.stderr
    assert result.stdout == ""
