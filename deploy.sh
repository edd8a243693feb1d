#!/usr/bin/env bash
# Deploy the options-trading stack of one environment with the pinned AWS CDK CLI.
#   ./deploy.sh -p PROJECT -e ENV -a AWS_PROFILE [--alarm-email ADDRESS]... [--cors-origin ORIGIN]... [--dry-run]
# The project names the stack (PROJECT-ENV-options-trading-stack) and tags its resources.
# Builds the Lambda assets (dependency layer for arm64 / Python 3.13) and the trader console
# (.build/console), then runs `cdk deploy` with `-c env=ENV -c project=PROJECT` and the
# deployment inputs as context (`alarm_emails`, `cors_allowed_origins`: required for staging and
# production, see docs/operations.md).
# --dry-run prints the commands instead of running them.
set -euo pipefail

CDK_CLI_VERSION="2.1148.1"
cd "$(dirname "$0")"
PYTHON="${PYTHON:-.venv/bin/python}"

usage() {
    cat >&2 <<USAGE
usage: ./deploy.sh -p PROJECT -e ENV -a AWS_PROFILE [--alarm-email ADDRESS]... [--cors-origin ORIGIN]... [--dry-run]
  -p, --project PROJECT     names the stack PROJECT-ENV-options-trading-stack and tags every
                            resource (a letter, then letters, digits, dashes)
  -e, --env ENV             environment from cdk_stack/environments.json
  -a, --profile PROFILE     AWS CLI profile of the target account
      --alarm-email ADDRESS an operator address mailed every alarm (repeatable)
      --cors-origin ORIGIN  the web app's origin, https://host[:port] (repeatable)
                            Both are required for staging and production unless
                            environments.json lists them; given here, they replace the file's.
      --dry-run             print the commands without running them
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

PROJECT="" ENVIRONMENT="" PROFILE="" ALARM_EMAILS="" CORS_ORIGINS="" DRY_RUN=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        -p | --project) value_of "$@"; PROJECT="$2"; shift 2 ;;
        -e | --env) value_of "$@"; ENVIRONMENT="$2"; shift 2 ;;
        -a | --profile) value_of "$@"; PROFILE="$2"; shift 2 ;;
        --alarm-email) value_of "$@"; ALARM_EMAILS="${ALARM_EMAILS:+$ALARM_EMAILS,}$2"; shift 2 ;;
        --cors-origin) value_of "$@"; CORS_ORIGINS="${CORS_ORIGINS:+$CORS_ORIGINS,}$2"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage ;;
        *) echo "error: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ -n "$PROJECT" && -n "$ENVIRONMENT" && -n "$PROFILE" ]] || usage
[[ "$PROJECT" =~ ^[A-Za-z][A-Za-z0-9-]*$ ]] || fail "project '$PROJECT' must be a letter, then letters, digits and dashes"
[[ "$PROFILE" =~ ^[A-Za-z0-9_.+-]+$ ]] || fail "profile '$PROFILE' is not a valid AWS CLI profile name"
[[ -x "$PYTHON" ]] || fail "$PYTHON not found: run 'make venv' first"

# The same checks as app.py: the project, the environment (an unknown one is named with the valid
# ones) and its deployment inputs. Prints the stack's name, which the project sets.
STACK="$("$PYTHON" - "$PROJECT" "$ENVIRONMENT" "$ALARM_EMAILS" "$CORS_ORIGINS" <<'PY'
import sys
from cdk_stack.config import ConfigError, check_project, inputs_from_context, load_environment, stack_name
project, environment, emails, origins = sys.argv[1:]
given = {"alarm_emails": emails, "cors_allowed_origins": origins}
try:
    check_project(project)
    load_environment(environment, inputs=inputs_from_context({k: v for k, v in given.items() if v}))
except ConfigError as exc:
    sys.exit(f"error: {exc}")
print(stack_name(environment, project))
PY
)" || exit 2

CONTEXT=(-c "env=${ENVIRONMENT}" -c "project=${PROJECT}")
if [[ -n "$ALARM_EMAILS" ]]; then CONTEXT+=(-c "alarm_emails=${ALARM_EMAILS}"); fi
if [[ -n "$CORS_ORIGINS" ]]; then CONTEXT+=(-c "cors_allowed_origins=${CORS_ORIGINS}"); fi

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
# The trader console (no dependencies): hashed files in .build/console, uploaded by the stack.
run node console/build.mjs
run npx --yes "aws-cdk@${CDK_CLI_VERSION}" deploy "$STACK" \
    --app "$PYTHON app.py" \
    "${CONTEXT[@]}" \
    --profile "$PROFILE" \
    --tags "Project=${PROJECT}" \
    --tags "Environment=${ENVIRONMENT}"
