#!/usr/bin/env python3
"""CDK entry point: `python app.py --env NAME [-c KEY=VALUE ...]`, or via the CDK CLI with
`-c env=NAME` (default dev).

Context read here, from the CDK CLI (`CDK_CONTEXT_JSON`) or `-c` given to this script: `env`,
`project` (names the stack, default ql-algo-trading) and the deployment inputs `alarm_emails`
and `cors_allowed_origins` (comma-separated; required for staging and production), and
`console_dir` (the built console to publish, default `.build/console`: `make build`).
Configuration problems end with a one-line message and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

# jsii starts Node on the first `aws_cdk` import; Node 20's deprecation / end-of-life banners
# (the latter since jsii's support date passed) are noise on stderr here.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from cdk_stack.application import build_app
from cdk_stack.config import (
    DEFAULT_PROJECT,
    ConfigError,
    check_project,
    inputs_from_context,
    load_environment,
)

DEFAULT_ENVIRONMENT = "dev"


def _cli_context() -> dict[str, Any]:
    """The context the CDK CLI passes (cdk.json, `-c KEY=VALUE`) through CDK_CONTEXT_JSON."""
    raw = os.environ.get("CDK_CONTEXT_JSON")
    if not raw:
        return {}
    try:
        context = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return context if isinstance(context, dict) else {}


def _pair(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthesize the options-trading stack.")
    parser.add_argument(
        "--env", help=f"environment from cdk_stack/environments.json (default {DEFAULT_ENVIRONMENT})"
    )
    parser.add_argument(
        "-c",
        "--context",
        type=_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="context as the CDK CLI takes it: project, alarm_emails, cors_allowed_origins",
    )
    args = parser.parse_args(argv)
    context = {**_cli_context(), **dict(args.context)}
    environment = context.get("env")
    name = args.env or (environment if isinstance(environment, str) else None) or DEFAULT_ENVIRONMENT
    outdir = os.environ.get("CDK_OUTDIR", "cdk.out")
    try:
        project = check_project(str(context.get("project", DEFAULT_PROJECT)))
        config = load_environment(name, inputs=inputs_from_context(context))
        app, stack = build_app(config, outdir=outdir, project=project)
        app.synth()
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    except RuntimeError as exc:
        if "ValidationFailed" not in str(exc):
            raise
        parser.exit(1, f"error: cdk-nag findings are not acknowledged; see {outdir}/validation-report.json\n")
    sys.stderr.write(
        f"synthesized {stack.stack_name} ({config.name}) into {outdir}/{stack.artifact_id}.template.json\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
