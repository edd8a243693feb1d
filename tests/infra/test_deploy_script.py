"""deploy.sh: the seed's `-p/-e/-a` interface, validated before anything is built or deployed."""

from __future__ import annotations

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


def test_dry_run_prints_the_build_and_the_pinned_cdk_deploy() -> None:
    result = _deploy("-p", "ql-algo-trading", "-e", "staging", "-a", "trading-staging", "--dry-run")
    assert result.returncode == 0, result.stderr
    build, deploy = result.stdout.splitlines()
    assert build.startswith("+ ") and build.endswith("-m cdk_stack.assets")
    assert "npx --yes aws-cdk@2." in deploy
    assert " deploy ql-algo-trading-staging-options-trading-stack " in deploy
    assert " -c env=staging " in deploy
    assert " --profile trading-staging " in deploy
    assert "Project=ql-algo-trading" in deploy


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


def test_unsafe_values_are_refused_before_any_command() -> None:
    result = _deploy("-p", "proj; rm -rf /", "-e", "dev", "-a", "default", "--dry-run")
    assert result.returncode == 2
    assert "project" in result.stderr
    assert result.stdout == ""
