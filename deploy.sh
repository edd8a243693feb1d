#!/usr/bin/env bash
# Deploy the options-trading stack of one environment with the pinned AWS CDK CLI.
#   ./deploy.sh -p PROJECT -e ENV -a AWS_PROFILE [--dry-run]
# Builds the Lambda assets (dependency layer for arm64 / Python 3.13), then runs `cdk deploy`
# with `-c env=ENV`. --dry-run prints the commands instead of running them.
set -euo pipefail

CDK_CLI_VERSION="2.1148.1"
cd "$(dirname "$0")"
PYTHON="${PYTHON:-.venv/bin/python}"

usage() {
    cat >&2 <<USAGE
usage: ./deploy.sh -p PROJECT -e ENV -a AWS_PROFILE [--dry-run]
  -p, --project PROJECT   project tag on every resource (letters, digits, dashes)
  -e, --env ENV           environment from cdk_stack/environments.json
  -a, --profile PROFILE   AWS CLI profile of the target account
      --dry-run           print the commands without running them
USAGE
    exit 2
}

fail() {
    echo "error: $1" >&2
    exit 2
}

# A flag's value may not look like a flag: `-a --dry-run` must not deploy for real.
value_of() {
    [[ $# -ge 2 && -n "$2" && "$2" != -* ]] || { echo "error: $1 needs a value" >&2; usage; }
}

PROJECT="" ENVIRONMENT="" PROFILE="" DRY_RUN=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -p | --project) value_of "$@"; PROJECT="$2"; shift 2 ;;
        -e | --env) value_of "$@"; ENVIRONMENT="$2"; shift 2 ;;
        -a | --profile) value_of "$@"; PROFILE="$2"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage ;;
        *) echo "error: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ -n "$PROJECT" && -n "$ENVIRONMENT" && -n "$PROFILE" ]] || usage
[[ "$PROJECT" =~ ^[A-Za-z0-9][A-Za-z0-9-]*$ ]] || fail "project '$PROJECT' must be letters, digits and dashes"
[[ "$PROFILE" =~ ^[A-Za-z0-9_.+-]+$ ]] || fail "profile '$PROFILE' is not a valid AWS CLI profile name"
[[ -x "$PYTHON" ]] || fail "$PYTHON not found: run 'make venv' first"

# The same loader as app.py: an unknown environment is named with the valid ones.
"$PYTHON" - "$ENVIRONMENT" <<'PY' || exit 2
import sys
from cdk_stack.config import ConfigError, load_environment
try:
    load_environment(sys.argv[1])
except ConfigError as exc:
    sys.exit(f"error: {exc}")
PY

STACK="ql-algo-trading-${ENVIRONMENT}-options-trading-stack"

run() {
    if [[ $DRY_RUN -eq 1 ]]; then
        printf '+'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
run "$PYTHON" -m cdk_stack.assets
run npx --yes "aws-cdk@${CDK_CLI_VERSION}" deploy "$STACK" \
    --app "$PYTHON app.py" \
    -c "env=${ENVIRONMENT}" \
    --profile "$PROFILE" \
    --tags "Project=${PROJECT}" \
    --tags "Environment=${ENVIRONMENT}"
