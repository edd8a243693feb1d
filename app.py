#!/usr/bin/env python3
"""CDK entry point: `python app.py --env NAME`, or via the CDK CLI with `-c env=NAME` (default dev).

Configuration problems end with a one-line message and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# jsii starts Node on the first `aws_cdk` import; Node 20's deprecation / end-of-life banners
# (the latter since jsii's support date passed) are noise on stderr here.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from cdk_stack.application import build_app
from cdk_stack.config import ConfigError, load_environment

DEFAULT_ENVIRONMENT = "dev"


def _context_environment() -> str | None:
    """The `env` context value the CDK CLI passes (`-c env=NAME`) through CDK_CONTEXT_JSON."""
    raw = os.environ.get("CDK_CONTEXT_JSON")
    if not raw:
        return None
    try:
        value = json.loads(raw).get("env")
    except (json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthesize the options-trading stack.")
    parser.add_argument(
        "--env", help=f"environment from cdk_stack/environments.json (default {DEFAULT_ENVIRONMENT})"
    )
    args = parser.parse_args(argv)
    name = args.env or _context_environment() or DEFAULT_ENVIRONMENT
    outdir = os.environ.get("CDK_OUTDIR", "cdk.out")
    try:
        config = load_environment(name)
        app, stack = build_app(config, outdir=outdir)
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
