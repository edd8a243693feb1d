"""Canonical event fixtures (JSON, as the AWS services send them) and builders on top of them."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@cache
def _read(name: str) -> str:
    return (EVENTS_DIR / name).read_text()


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of `tests/events/<name>` (e.g. `api/rest_proxy.json`)."""
    return json.loads(_read(name))


def api_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    user: str | None = "user-a",
    groups: Iterable[str] = ("traders",),
    body: Any = None,
    raw_body: str | None = None,
    base64_body: bool = False,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event for `method path` from `user` (None: no authorizer claims).

    `resource` is the route template (`/options/baskets/{basket_id}`); when given, the path
    parameters are filled in from `path` as API Gateway does.
    """
    event = (
        load_event("api/rest_proxy.json")
        if user is not None
        else load_event("api/rest_proxy_no_identity.json")
    )
    event["httpMethod"] = method
    event["path"] = path
    event["resource"] = resource or path
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["resourcePath"] = resource or path
    event["requestContext"]["path"] = f"/test{path}"
    if user is not None:
        claims = event["requestContext"]["authorizer"]["claims"]
        claims["sub"] = user
        claims["cognito:groups"] = ",".join(groups)
    if resource:
        names = _PATH_PARAMETER.findall(resource)
        pattern = "^" + _PATH_PARAMETER.sub("([^/]+)", resource) + "$"
        match = re.match(pattern, path)
        if match is None:
            raise ValueError(f"{path} does not match {resource}")
        event["pathParameters"] = dict(zip(names, match.groups(), strict=True))
    if query:
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {key: [value] for key, value in query.items()}
    if headers:
        event["headers"] = {**event["headers"], **headers}
    if raw_body is not None:
        event["body"] = raw_body
        event["isBase64Encoded"] = base64_body
    elif body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["Content-Type"] = "application/json"
    return copy.deepcopy(event)


def alarm_event(**message: Any) -> dict[str, Any]:
    """The alarm topic's SNS event for Lambda (`notifications/sns_alarm.json`: the calendar-coverage
    alarm going into ALARM at 10:05 IST), with fields of the alarm's JSON message replaced."""
    event = load_event("notifications/sns_alarm.json")
    sns = event["Records"][0]["Sns"]
    sns["Message"] = json.dumps({**json.loads(sns["Message"]), **message})
    return event
