"""moto 5.2 answers every DynamoDB request through its generic, shape-driven response serializer,
which walks the botocore output model member by member: 8-10 ms to encode one item of a dozen
attributes, most of an in-process request (a `GetItem` took 8 ms here, a `Query` returning
five items 29 ms). DynamoDB's results are already its wire format (`{"S": ...}` values), so
`install()` encodes them as DynamoDB does, JSON with binary values base64 and times as epoch
seconds, and leaves errors to moto's own serializer. Requests, conditions and the stored items
are moto's as before."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb.responses import DynamoHandler

CONTENT_TYPE = "application/x-amz-json-1.0"
_installed = False


def _wire(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not part of a DynamoDB answer")


def _serialized(self: DynamoHandler, action_result: ActionResult) -> tuple[int, dict[str, Any], str | bytes]:
    result = action_result.result
    if isinstance(result, Exception):
        return BaseResponse.serialized(self, action_result)
    body = json.dumps(result if result is not None else {}, default=_wire, separators=(",", ":"))
    headers: dict[str, Any] = {"Content-Type": CONTENT_TYPE}
    headers.update(self.response_headers)
    return 200, headers, body


def install() -> None:
    global _installed
    if _installed:
        return
    DynamoHandler.serialized = _serialized  # type: ignore[method-assign,assignment]
    _installed = True
